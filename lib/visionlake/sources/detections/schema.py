"""Declared schemas of the security-camera frame JSON and of the detections lake tables.

One file per analysed frame: the collector's envelope (user, device, site, capture time, image facts,
detector) around the detector's output in one of two shapes (reference: security-cam-detections.md):
- shape A, DeepStack / CodeProject.AI: ``success``, ``error``, ``inferenceMs``, ``predictions`` (labels as
  text, pixel boxes, scores 0-1 or, from some detectors, 0-100);
- shape B, TensorFlow Object Detection API: ``num_detections`` and the padded arrays ``detection_classes``
  (label-map ids as floats), ``detection_scores`` and ``detection_boxes`` (``[ymin, xmin, ymax, xmax]``, 0-1).
Numbers that some detectors write as text or as floats (``num_detections``, ids) are declared as doubles;
``track_id`` as a string (Spark keeps a number's JSON text for a string field).
"""

from __future__ import annotations

from pyspark.sql import types as T

from visionlake.ingest.reader import READ_SCHEMA


def _f(name: str, kind: T.DataType, nullable: bool = True) -> T.StructField:
    return T.StructField(name, kind, nullable)


# The label map of shape B: COCO's ids for the labels visionlake knows, and the custom id the collector's
# model adds for racoon (COCO has none; COCO's own ids stop at 90).
LABEL_MAP: dict[int, str] = {
    1: "person",
    2: "bicycle",
    3: "car",
    8: "truck",
    16: "bird",
    17: "cat",
    18: "dog",
    91: "racoon",
}
LABELS = tuple(LABEL_MAP.values())  # the labels a rule may name
LABEL_ALIASES = {"raccoon": "racoon"}  # spellings detectors use for the same class
UNTAGGED = "(untagged)"  # the user_id / device_id of gold rows about frames whose envelope names none

IMAGE = T.StructType(
    [
        _f("uri", T.StringType()),
        _f("format", T.StringType()),
        _f("width", T.LongType()),
        _f("height", T.LongType()),
        _f("size_bytes", T.LongType()),
        _f("contrast", T.DoubleType()),
        _f("brightness", T.DoubleType()),
    ]
)
DETECTOR = T.StructType([_f("name", T.StringType()), _f("version", T.StringType())])
PREDICTION = T.StructType(
    [
        _f("label", T.StringType()),
        _f("confidence", T.DoubleType()),
        _f("x_min", T.DoubleType()),
        _f("y_min", T.DoubleType()),
        _f("x_max", T.DoubleType()),
        _f("y_max", T.DoubleType()),
        _f("track_id", T.StringType()),
    ]
)
FRAME_FIELDS = [
    # envelope
    _f("user_id", T.StringType()),
    _f("device_id", T.StringType()),
    _f("site_id", T.StringType()),
    _f("captured_at", T.StringType()),
    _f("image", IMAGE),
    _f("detector", DETECTOR),
    # shape A
    _f("success", T.BooleanType()),
    _f("error", T.StringType()),
    _f("inferenceMs", T.DoubleType()),
    _f("predictions", T.ArrayType(PREDICTION)),
    # shape B
    _f("num_detections", T.DoubleType()),
    _f("detection_classes", T.ArrayType(T.DoubleType())),
    _f("detection_scores", T.ArrayType(T.DoubleType())),
    _f("detection_boxes", T.ArrayType(T.ArrayType(T.DoubleType()))),
    _f("detection_track_ids", T.ArrayType(T.StringType())),
    _f("inference_ms", T.DoubleType()),
]
FRAME = T.StructType(FRAME_FIELDS)
REQUIRED_FIELDS: tuple[str, ...] = ()  # a frame without its tags is an invalid image, not a broken file

# ------------------------------------------------------------------------------------------------
# lake tables (names and columns are a contract)

# the reader's columns, its camera_id (the first folder) named for what it is here, then the run's columns
BRONZE = T.StructType(
    [
        T.StructField("folder", f.dataType, f.nullable) if f.name == "camera_id" else f
        for f in READ_SCHEMA.fields  # folder: <user_id>-<device_id> as the collector named it (not split)
    ]
    + [
        _f("run_id", T.StringType(), False),
        _f("ingested_at", T.TimestampType(), False),
        _f("ingest_date", T.DateType(), False),
    ]
)
