"""Silver detections tables from parsed frames: frames, invalid_images and objects.

Every function here is a pure DataFrame transform. The input is one row per usable file with
``frame_key``, ``source_path``, ``folder``, ``modified_at``, ``ingested_at`` and ``frame`` (the parsed JSON,
:data:`visionlake.sources.detections.schema.FRAME`). :func:`with_capture_time` and then
:func:`with_validation` add what the table builders need; each builder returns its table's columns in the
contract's order, ``event_date`` (the partition, UTC date of ``captured_at``) last. Times do not depend on the
session time zone.

The builders filter on ``reasons``: persist the validated frames before building several tables from them,
or Spark pushes that filter below the time parsing and evaluates the parsing twice.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.config import ImageValidationSettings
from visionlake.sources.detections.schema import LABEL_ALIASES, LABEL_MAP
from visionlake.transforms.scrub import scrubbed_prose
from visionlake.transforms.times import in_years, local_in_years, utc_date

PARTITION = "event_date"
# <captured_at in UTC as YYYY-MM-DDTHH-MM-SS.ffffff>Z.json, the last part of the path
FILE_TIME_PATTERN = r"^(?:.*/)?(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2}(?:\.\d{1,6})?)Z\.json$"
# ISO 8601 local date-time, 0-6 fraction digits, optional offset (Z, +hh:mm or +hhmm)
ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})?$"
ZONE_PATTERN = r"(Z|[+-]\d{2}:?\d{2})$"  # the offset of a string ISO_PATTERN matched, or ""
MAX_OFFSET_MIN = 14 * 60
OFFSET_STEP_MIN = 15
MICROS_PER_MIN = 60_000_000
REASONS = (
    "format",
    "min_resolution",
    "max_size",
    "min_contrast",
    "missing_user_tag",
    "missing_device_tag",
    "missing_time",
    "time_mismatch",
)


def _f(name: str, kind: T.DataType) -> T.StructField:
    return T.StructField(name, kind)


_FRAME_HEAD = [
    _f("frame_key", T.StringType()),
    _f("source_path", T.StringType()),
    _f("image_uri", T.StringType()),
    _f("user_id", T.StringType()),
    _f("device_id", T.StringType()),
    _f("site_id", T.StringType()),
    _f("captured_at", T.TimestampType()),
    _f("local_tz_offset_min", T.IntegerType()),
    _f("image_format", T.StringType()),
    _f("image_width", T.LongType()),
    _f("image_height", T.LongType()),
    _f("image_size_bytes", T.LongType()),
    _f("image_contrast", T.DoubleType()),
    _f("image_brightness", T.DoubleType()),
    _f("detector_name", T.StringType()),
    _f("detector_version", T.StringType()),
    _f("detector_shape", T.StringType()),
    _f("detector_error", T.StringType()),
    _f("inference_ms", T.DoubleType()),
    _f("object_count", T.IntegerType()),
]
_FRAME_TAIL = [_f("ingested_at", T.TimestampType()), _f("event_date", T.DateType())]
FRAMES = T.StructType([*_FRAME_HEAD, *_FRAME_TAIL])
INVALID_IMAGES = T.StructType([*_FRAME_HEAD, _f("reasons", T.ArrayType(T.StringType())), *_FRAME_TAIL])
OBJECT = T.StructType(  # the fields of one object, as explode_objects adds them after the frame's columns
    [
        _f("det_idx", T.IntegerType()),
        _f("label", T.StringType()),
        _f("label_id", T.IntegerType()),
        _f("score", T.DoubleType()),
        _f("x_min", T.DoubleType()),
        _f("y_min", T.DoubleType()),
        _f("x_max", T.DoubleType()),
        _f("y_max", T.DoubleType()),
        _f("x", T.DoubleType()),
        _f("y", T.DoubleType()),
        _f("w", T.DoubleType()),
        _f("h", T.DoubleType()),
        _f("area_fraction", T.DoubleType()),
        _f("track_id", T.StringType()),
    ]
)
OBJECTS = T.StructType(
    [
        _f("frame_key", T.StringType()),
        *OBJECT.fields,
        _f("user_id", T.StringType()),
        _f("device_id", T.StringType()),
        _f("site_id", T.StringType()),
        _f("captured_at", T.TimestampType()),
        _f("local_tz_offset_min", T.IntegerType()),
        _f("is_valid_image", T.BooleanType()),
        *_FRAME_TAIL,
    ]
)

# ------------------------------------------------------------------------------------------------
# capture time


def file_name_time(path: Column) -> Column:
    """The UTC instant in a file name ``.../<YYYY-MM-DDTHH-MM-SS.ffffff>Z.json``, or null. Its years are not
    checked here (:func:`with_capture_time` checks them in a step of its own)."""
    return F.when(
        path.rlike(FILE_TIME_PATTERN), F.to_timestamp(F.regexp_replace(path, FILE_TIME_PATTERN, "$1T$2:$3:$4Z"))
    )


def _written_offset(zone: Column) -> Column:
    """Minutes east of UTC of ``Z``, ``+hh:mm`` or ``+hhmm``; null beyond +-14 h or with minutes past 59."""
    hours, minutes = F.substring(zone, 2, 2).cast("int"), F.substring(zone, -2, 2).cast("int")
    sign = F.when(zone.startswith("-"), F.lit(-1)).otherwise(F.lit(1))
    valid = (minutes < 60) & (hours * 60 + minutes <= MAX_OFFSET_MIN)
    return F.when(zone == "Z", F.lit(0)).when(valid, sign * (hours * 60 + minutes))


def _inferred_offset(naive: Column, name_time: Column) -> Column:
    """Naive local time minus the file-name time in minutes, rounded to 15; 0 without a file-name time or
    beyond +-14 h."""
    quarters = F.round((F.unix_micros(naive) - F.unix_micros(name_time)) / F.lit(MICROS_PER_MIN * OFFSET_STEP_MIN))
    offset = (quarters * OFFSET_STEP_MIN).cast("int")
    return F.when(F.abs(offset) <= MAX_OFFSET_MIN, offset).otherwise(F.lit(0))


def with_capture_time(df: DataFrame, site_zones: Mapping[str, str] | None = None) -> DataFrame:
    """Add ``captured_at`` (UTC), ``local_tz_offset_min``, ``event_date`` and the helpers ``_name_time``
    (the file-name time) and ``_time_given`` (the envelope's ``captured_at`` parsed).

    ``frame.captured_at`` is local time, ISO 8601. With an offset, that offset applies. Without one, the offset
    is that of the site's time zone (``site_zones``: site_id -> IANA zone, ``detections.site_time_zones``) at
    that wall time, else the naive local time minus the file-name time rounded to 15 minutes, when the file-name
    time exists and the result is within +-14 h; else 0 (UTC). Absent or unparseable (an offset beyond +-14 h
    and an instant out of the years 1900-9999 UTC included, :func:`~visionlake.transforms.times.in_years`):
    ``captured_at`` is the file-name time, else ``modified_at``, with offset 0. A frame of a site with a zone has,
    whatever offset it carries, the zone's offset at ``captured_at`` (daylight saving time included) as its local
    offset: a collector that writes UTC still gets its site's schedules and local dates. For such a frame a time
    (written, or the file name's) must be in those years at the site too (20:00 UTC on 31 Dec 9999 is in year 10000
    at +14 h: a local date the lake cannot write); a ``modified_at`` that is not keeps offset 0.
    Requires ``frame``, ``source_path`` and ``modified_at``.
    """
    text = F.trim(F.col("frame.captured_at"))
    cap, zone, site_zone = F.col("_cap"), F.col("_zone"), F.col("_site_zone")
    local = cap.substr(F.lit(1), F.length(cap) - F.length(zone))
    if site_zones:
        zones = F.create_map(*[F.lit(v) for pair in sorted(site_zones.items()) for v in pair])
        zone_of_site = zones[F.col("frame.site_id")]
    else:
        zone_of_site = F.lit(None).cast("string")

    def zone_offset(utc: Column) -> Column:  # minutes the site's zone is ahead of UTC at the instant ``utc``
        return (F.unix_micros(F.from_utc_timestamp(utc, site_zone)) - F.unix_micros(utc)) / F.lit(MICROS_PER_MIN)

    def at_site(utc: Column) -> Column:  # ``utc`` when its wall time at the site (if it has a zone) is in the years
        return F.when(site_zone.isNull() | local_in_years(utc, site_zone).isNotNull(), utc)

    naive_in_zone = F.to_utc_timestamp(F.col("_naive"), site_zone)  # the wall time read in the site's zone
    return (
        # the name read, then its years checked, in two steps: in_years reads the time three times, and within a
        # condition Spark read the name again for each (504,506 frames: 2.0 s instead of 3.0 s for this function)
        df.withColumn("_name_time", file_name_time(F.col("source_path")))
        .withColumn("_name_time", in_years(F.col("_name_time")))
        .withColumn("_site_zone", zone_of_site)
        .withColumn("_cap", F.when(text.rlike(ISO_PATTERN), text))
        .withColumn("_zone", F.regexp_extract(cap, ZONE_PATTERN, 1))
        .withColumn("_naive", F.to_timestamp(F.concat(local, F.lit("Z"))))
        .withColumn(
            "_offset",
            F.when((zone == "") & site_zone.isNotNull(), zone_offset(naive_in_zone))
            .when(zone == "", _inferred_offset(F.col("_naive"), F.col("_name_time")))
            .otherwise(_written_offset(zone))
            .cast("int"),
        )
        .withColumn(
            "_given",
            at_site(
                in_years(
                    F.timestamp_micros(F.unix_micros("_naive") - F.col("_offset").cast("long") * F.lit(MICROS_PER_MIN))
                )
            ),
        )
        .withColumn("_time_given", F.col("_given").isNotNull())
        .withColumn("captured_at", F.coalesce("_given", at_site(F.col("_name_time")), "modified_at"))
        .withColumn(
            "local_tz_offset_min",
            F.when(site_zone.isNotNull(), F.coalesce(zone_offset(at_site(F.col("captured_at"))).cast("int"), F.lit(0)))
            .when(F.col("_time_given"), F.col("_offset"))
            .otherwise(F.lit(0)),
        )
        .withColumn(PARTITION, utc_date(F.col("captured_at")))
        .drop("_cap", "_zone", "_naive", "_offset", "_given", "_site_zone")
    )


# ------------------------------------------------------------------------------------------------
# validation


def _blank(text: Column) -> Column:
    return text.isNull() | (F.trim(text) == "")


def with_validation(df: DataFrame, settings: ImageValidationSettings) -> DataFrame:
    """Add ``reasons``: the names in :data:`REASONS` of the rules the frame fails, in that order (empty if valid).

    A null format, width, height or contrast fails its rule; a null size does not. A blank user or device
    tag is missing. Requires :func:`with_capture_time`'s columns.
    """
    image = F.col("frame.image")
    fmt, width, height = image["format"], image["width"], image["height"]
    skew_us = F.abs(F.unix_micros(F.col("_name_time")) - F.unix_micros(F.col("captured_at")))
    failures = {
        "format": fmt.isNull() | ~F.lower(F.trim(fmt)).isin(*settings.formats),
        "min_resolution": width.isNull()
        | height.isNull()
        | (width < settings.min_width)
        | (height < settings.min_height),
        "max_size": image["size_bytes"] > settings.max_size_bytes,
        "min_contrast": image["contrast"].isNull() | (image["contrast"] < settings.min_contrast),
        "missing_user_tag": _blank(F.col("frame.user_id")),
        "missing_device_tag": _blank(F.col("frame.device_id")),
        "missing_time": ~F.col("_time_given"),
        "time_mismatch": F.col("_time_given") & (skew_us > F.lit(settings.max_clock_skew_seconds * 1_000_000)),
    }
    # arrays joined rather than nulls filtered out: Spark evaluates a filter's lambda row by row without generated
    # code (of the JVM's samples in silver, this filter had 3 %)
    none = F.array().cast(T.ArrayType(T.StringType()))
    return df.withColumn(
        "reasons", F.concat(*[F.when(failures[name], F.array(F.lit(name))).otherwise(none) for name in REASONS])
    )


# ------------------------------------------------------------------------------------------------
# detections


def detector_shape(frame: Column) -> Column:
    """``'B'`` (TF Object Detection API) when ``num_detections`` or ``detection_classes`` is present, ``'A'``
    (DeepStack) when ``predictions`` or ``success`` is, else null."""
    return F.when(frame["num_detections"].isNotNull() | frame["detection_classes"].isNotNull(), F.lit("B")).when(
        frame["predictions"].isNotNull() | frame["success"].isNotNull(), F.lit("A")
    )


# detector_error of a failed inference whose detector gave no error text
FAILED_WITHOUT_ERROR = "inference failed (success: false, no error given)"


def failed_inference(frame: Column) -> Column:
    """Whether the detector reported a failed inference (``success: false``): such a frame has no objects,
    whatever its detections hold, and its ``detector_error`` says so."""
    return F.coalesce(frame["success"] == F.lit(False), F.lit(False))


def detector_error(frame: Column) -> Column:
    """A failed inference's error: the detector's ``error`` text (e-mail, IP and MAC addresses, GUIDs and document
    numbers in it replaced by their shapes: :func:`~visionlake.transforms.scrub.scrubbed_prose`), or
    :data:`FAILED_WITHOUT_ERROR` when it gives none (or only blanks); null when the inference did not fail."""
    error = scrubbed_prose(frame["error"])
    return F.when(failed_inference(frame), F.when(F.trim(error) != "", error).otherwise(F.lit(FAILED_WITHOUT_ERROR)))


def _score(raw: Column, scale: Column) -> Column:
    """A score as 0-1, ``scale`` being :func:`score_scale` of its frame."""
    return (raw / scale).cast("double")


def _clip(value: Column, low: Column | float, high: Column | float) -> Column:
    """``value`` within [low, high]; a null bound does not bound; null stays null."""
    return F.when(value.isNotNull(), F.least(F.greatest(value, F.lit(low)), F.lit(high))).cast("double")


def _map(mapping: dict) -> Column:
    return F.create_map(*[F.lit(x) for pair in sorted(mapping.items()) for x in pair])


def _size(array: Column) -> Column:
    """The size of an array, 0 for null."""
    return F.when(array.isNull(), F.lit(0)).otherwise(F.size(array))


def _shape_b_count(frame: Column) -> Column:
    """How many entries of a shape B frame count: min(num_detections, sizes of the three arrays), at least 0."""
    arrays = (frame["detection_classes"], frame["detection_scores"], frame["detection_boxes"])
    sizes = [_size(a) for a in arrays]
    return F.greatest(F.least(F.coalesce(frame["num_detections"].cast("int"), sizes[0]), *sizes), F.lit(0))


def _given_scores(frame: Column) -> Column:
    """The scores of the detections of the frame that count, as the detector gave them (null for a failed
    inference, whose detections are not read)."""
    shape = detector_shape(frame)
    return F.when(
        ~failed_inference(frame),
        F.when(shape == "B", F.slice(frame["detection_scores"], 1, _shape_b_count(frame))).when(
            shape == "A", F.transform(frame["predictions"], lambda p: p["confidence"])
        ),
    )


def score_scale(frame: Column) -> Column:
    """100 when the frame's detector gave percentages, else 1: decided per frame, since a detector gives its
    scores all one way. A score above 1 can only be a percent, and then so is every score of the frame (a
    dog at 1 beside a car at 87 is 1 %, not certain); a frame whose scores are all at most 1 is read as 0-1."""
    return F.when(F.array_max(_given_scores(frame)) > 1, F.lit(100.0)).otherwise(F.lit(1.0))


def score_problem(frame: Column) -> Column:
    """Why the frame's scores are neither 0-1 nor percentages (a score below 0 or above 100), or null."""
    scores = _given_scores(frame)
    high, low = F.array_max(scores), F.array_min(scores)
    return F.when(high > 100, F.format_string("a detection score of %s is above 100", high.cast("string"))).when(
        low < 0, F.format_string("a detection score of %s is below 0", low.cast("string"))
    )


def box_problem(frame: Column) -> Column:
    """Why a shape B frame's boxes cannot be read (a box of the detections that count without its four
    numbers, ``[ymin, xmin, ymax, xmax]``, or with a null among them), or null. Either made a box of no area."""
    boxes = F.slice(frame["detection_boxes"], 1, _shape_b_count(frame))
    # per box: how many numbers it has (-1: a null among them); 4 is a box
    sizes = F.transform(
        boxes,
        lambda b: F.when(b.isNull(), F.lit(0)).when(F.exists(b, lambda x: x.isNull()), F.lit(-1)).otherwise(F.size(b)),
    )
    odd = F.get(F.filter(sizes, lambda n: n != 4), 0)
    return F.when(
        (detector_shape(frame) == "B") & ~failed_inference(frame),
        F.when(odd == -1, F.lit("wrong type: detection_boxes (a box with a null number)")).when(
            odd.isNotNull(), F.format_string("wrong type: detection_boxes (a box of %d numbers, 4 expected)", odd)
        ),
    )


def label_problem(frame: Column) -> Column:
    """Why a detection of the frame that has a score has no label (a shape A prediction without ``label``, a null
    among a shape B frame's ``detection_classes`` that count), or null. Its object would have no label, which the
    objects' error-level check refuses: gold stopped at it, run after run. A detection without a score is no
    object at any ``min_score`` and is not looked at, nor is a failed inference's."""
    n = _shape_b_count(frame)
    classes, scores = F.slice(frame["detection_classes"], 1, n), F.slice(frame["detection_scores"], 1, n)
    in_b = F.array_contains(F.zip_with(classes, scores, lambda c, s: c.isNull() & s.isNotNull()), True)
    in_a = F.exists(frame["predictions"], lambda p: p.isNotNull() & p["label"].isNull() & p["confidence"].isNotNull())
    shape = detector_shape(frame)
    return F.when(
        ~failed_inference(frame),
        F.when((shape == "B") & in_b, F.lit("missing: detection_classes (a detection with a score and no class)")).when(
            (shape == "A") & in_a, F.lit("missing: predictions.label (a detection with a score and no label)")
        ),
    )


def with_detections_checked(df: DataFrame) -> DataFrame:
    """``df`` (rows of :func:`visionlake.ingest.jsonparse.classify`, the parsed frame in ``frame``) with a reason
    on each usable frame whose detections cannot be read: ``out_of_range`` for scores :func:`score_problem`
    refuses, ``schema_mismatch`` for boxes :func:`box_problem` refuses, ``missing_field`` for a detection without
    its label (:func:`label_problem`). Quarantined, since no reading of them is right, rather than stopping gold
    at the objects' checks or making boxes of no area."""
    frame = F.col("frame")
    usable = F.col("reason").isNull()
    # each problem is worked out once, in a step of its own: reason and detail both read it, and Spark would
    # otherwise evaluate its array functions (row by row, without generated code) for each
    problems = {"_scores": score_problem(frame), "_boxes": box_problem(frame), "_labels": label_problem(frame)}
    scores, boxes, labels = (F.col(name) for name in problems)
    return (
        df.withColumns({name: F.when(usable, problem) for name, problem in problems.items()})
        .withColumns(
            {
                "reason": F.when(scores.isNotNull(), F.lit("out_of_range"))
                .when(boxes.isNotNull(), F.lit("schema_mismatch"))
                .when(labels.isNotNull(), F.lit("missing_field"))
                .otherwise(F.col("reason")),
                "detail": F.when(usable, F.coalesce(scores, boxes, labels)).otherwise(F.col("detail")),
            }
        )
        .drop(*problems)
    )


def object_count(frame: Column, min_score: float) -> Column:
    """How many of the frame's detections are objects (score at or above ``min_score``; none for a failed
    inference): the rows :func:`build_objects` gives the frame."""
    shape = detector_shape(frame)
    in_b = F.slice(frame["detection_scores"], 1, _shape_b_count(frame))

    def at_scale(scale: float) -> Column:
        """The count when the frame's scores are read at ``scale``: a literal in the filters, which Spark evaluates
        element by element without generated code (with :func:`score_scale` in them, the scale was worked out
        again for each detection)."""

        def counts(score: Column) -> Column:
            return _score(score, F.lit(scale)) >= F.lit(min_score)

        return F.when(shape == "B", _size(F.filter(in_b, counts))).when(
            shape == "A", _size(F.filter(frame["predictions"], lambda p: counts(p["confidence"])))
        )

    counted = F.when(score_scale(frame) == F.lit(100.0), at_scale(100.0)).otherwise(at_scale(1.0))
    return F.when(failed_inference(frame), F.lit(0)).otherwise(F.coalesce(counted, F.lit(0)))


def explode_objects(df: DataFrame, min_score: float) -> DataFrame:
    """One row per object (score at or above ``min_score``) of every frame: the columns of ``df`` but ``frame``,
    then the :data:`OBJECT` fields.

    Shape B: the first min(num_detections, sizes of the three arrays) entries, labels by :data:`LABEL_MAP`
    (unknown id -> ``class-<id>``), boxes ``[ymin, xmin, ymax, xmax]`` clipped to 0-1 and scaled by the image
    size (pixels null when it is unknown). Shape A: labels lower case with :data:`LABEL_ALIASES` applied, pixel
    boxes clipped to the image (at 0 only when its size is unknown) and divided by its size (null when unknown):
    ``w``, ``h`` and ``area_fraction`` from the box's pixels, ``(x_max - x_min) * (y_max - y_min) / (width *
    height)``, exact for whole pixels. Corners given in the wrong order are swapped. Scores are read as
    percentages when :func:`score_scale` says so. A failed inference (:func:`failed_inference`) has no objects.
    """
    frame = F.col("frame")
    keep = [c for c in df.columns if c != "frame"]
    shape = detector_shape(frame)
    n = _shape_b_count(frame)
    in_b = {  # only the entries that count, so that each exploded row carries little
        f"_{name}": F.when(shape == "B", F.slice(frame[field], 1, n))
        for name, field in (
            ("classes", "detection_classes"),
            ("scores", "detection_scores"),
            ("boxes", "detection_boxes"),
            ("tracks", "detection_track_ids"),
        )
    }
    slim = df.select(
        *keep,
        (shape == "B").alias("_is_b"),
        frame["image"]["width"].cast("double").alias("_width"),
        frame["image"]["height"].cast("double").alias("_height"),
        score_scale(frame).alias("_scale"),
        *[v.alias(k) for k, v in in_b.items()],
        F.when(shape == "A", frame["predictions"]).alias("_preds"),
        failed_inference(frame).alias("_failed"),
    )
    is_b, width, height = F.col("_is_b"), F.col("_width"), F.col("_height")
    count = F.when(F.col("_failed"), F.lit(0)).when(is_b, _size(F.col("_classes"))).otherwise(_size(F.col("_preds")))
    exploded = slim.select("*", F.posexplode(F.array_repeat(F.lit(0), count)).alias("det_idx", "_unused"))
    i = F.col("det_idx")
    pred = F.get(F.col("_preds"), i)
    box = F.get(F.col("_boxes"), i)
    label_id = F.when(is_b, F.get(F.col("_classes"), i).cast("int"))
    raw = exploded.select(
        "*",
        _score(F.when(is_b, F.get(F.col("_scores"), i)).otherwise(pred["confidence"]), F.col("_scale")).alias("score"),
        label_id.alias("label_id"),
        F.when(is_b, F.get(F.col("_tracks"), i)).otherwise(pred["track_id"]).cast("string").alias("track_id"),
        F.lower(F.trim(pred["label"])).alias("_label_a"),
        # the box in the shape's unit, clipped, corners in the detector's order
        *[
            F.when(is_b, _clip(F.get(box, k), 0.0, 1.0)).otherwise(_clip(pred[name], 0.0, size)).alias(f"_{name}")
            for k, name, size in ((1, "x_min", width), (0, "y_min", height), (3, "x_max", width), (2, "y_max", height))
        ],
    ).where(F.col("score") >= F.lit(min_score))
    label_map, aliases = _map(LABEL_MAP), _map(LABEL_ALIASES)
    label_a, label_id = F.col("_label_a"), F.col("label_id")
    label_b = F.coalesce(label_map[label_id], F.concat(F.lit("class-"), label_id.cast("string")))
    xa, xb, ya, yb = F.col("_x_min"), F.col("_x_max"), F.col("_y_min"), F.col("_y_max")
    corners = {
        "x_min": F.least(xa, xb),
        "y_min": F.least(ya, yb),
        "x_max": F.greatest(xa, xb),
        "y_max": F.greatest(ya, yb),
    }
    known = width.isNotNull() & height.isNotNull() & (width > 0) & (height > 0)
    sizes = {"x_min": width, "y_min": height, "x_max": width, "y_max": height}
    located = raw.select(
        "*",
        F.when(is_b, label_b).otherwise(F.coalesce(aliases[label_a], label_a)).alias("label"),
        *[F.when(is_b, v * sizes[k]).otherwise(v).alias(f"_p_{k}") for k, v in corners.items()],
        *[F.when(is_b, v).when(known, v / sizes[k]).alias(f"_n_{k}") for k, v in corners.items()],
    )
    # Sizes from the box in the detector's unit: a pixel box's width, height and area are its pixels over the
    # image's, which is exact for whole pixels (100 x 50 px of 1000 x 500 is 0.01 wherever the box is; the
    # difference of two divided corners was 0.010000000000000002 at (0, 0) and 0.009999999999999998 at
    # (100, 100)); a shape B box is already a fraction of the image.
    pw, ph = F.col("_p_x_max") - F.col("_p_x_min"), F.col("_p_y_max") - F.col("_p_y_min")
    nw, nh = F.col("_n_x_max") - F.col("_n_x_min"), F.col("_n_y_max") - F.col("_n_y_min")
    w = F.when(is_b, nw).when(known, pw / width)
    h = F.when(is_b, nh).when(known, ph / height)
    area = F.when(is_b, nw * nh).when(known, pw * ph / (width * height))
    return located.select(
        *keep,
        "det_idx",
        "label",
        "label_id",
        "score",
        *[F.col(f"_p_{k}").alias(k) for k in corners],
        F.col("_n_x_min").alias("x"),
        F.col("_n_y_min").alias("y"),
        w.alias("w"),
        h.alias("h"),
        area.alias("area_fraction"),
        "track_id",
    )


# ------------------------------------------------------------------------------------------------
# tables


def _frame_columns(min_score: float) -> list[Column]:
    frame = F.col("frame")
    image = frame["image"]
    shape = detector_shape(frame)
    return [
        F.col("frame_key"),
        F.col("source_path"),
        image["uri"].alias("image_uri"),
        frame["user_id"].alias("user_id"),
        frame["device_id"].alias("device_id"),
        frame["site_id"].alias("site_id"),
        F.col("captured_at"),
        F.col("local_tz_offset_min").cast("int").alias("local_tz_offset_min"),
        F.lower(F.trim(image["format"])).alias("image_format"),
        image["width"].alias("image_width"),
        image["height"].alias("image_height"),
        image["size_bytes"].alias("image_size_bytes"),
        image["contrast"].alias("image_contrast"),
        image["brightness"].alias("image_brightness"),
        frame["detector"]["name"].alias("detector_name"),
        frame["detector"]["version"].alias("detector_version"),
        shape.alias("detector_shape"),
        detector_error(frame).alias("detector_error"),
        F.coalesce(frame["inferenceMs"], frame["inference_ms"]).alias("inference_ms"),
        object_count(frame, min_score).alias("object_count"),
    ]


def _is_valid() -> Column:
    return F.size("reasons") == 0


def build_frames(df: DataFrame, min_score: float) -> DataFrame:
    """:data:`FRAMES`: the valid images. Requires :func:`with_capture_time` and :func:`with_validation`."""
    return df.where(_is_valid()).select(*_frame_columns(min_score), "ingested_at", PARTITION)


def build_invalid_images(df: DataFrame, min_score: float) -> DataFrame:
    """:data:`INVALID_IMAGES`: the images with at least one reason, and the reasons."""
    return df.where(~_is_valid()).select(*_frame_columns(min_score), "reasons", "ingested_at", PARTITION)


def build_objects(df: DataFrame, min_score: float) -> DataFrame:
    """:data:`OBJECTS`: one row per object of every frame, valid or not (``is_valid_image``)."""
    frame = F.col("frame")
    base = df.select(
        "frame_key",
        "frame",
        frame["user_id"].alias("user_id"),
        frame["device_id"].alias("device_id"),
        frame["site_id"].alias("site_id"),
        "captured_at",
        F.col("local_tz_offset_min").cast("int").alias("local_tz_offset_min"),
        _is_valid().alias("is_valid_image"),
        "ingested_at",
        PARTITION,
    )
    return explode_objects(base, min_score).select(*OBJECTS.fieldNames())
