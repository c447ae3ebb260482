"""Declared schemas of the liveness API's MongoDB documents and of the face_validation lake tables.

``DOCUMENT`` is an allowlist (reference: face-validation-api.md and the real document in the seed data):
parsing with it is what drops ``user_data.trazabilidad``, ``azure_blob``, the face landmarks and every
bounding box, so none of them ever reaches the lake. ``_id`` and ``date`` are strings: Spark keeps the
JSON text of an object for a string field, so ``{"$oid": ...}`` and ``{"$date": ...}`` arrive as text and
are normalised by :mod:`visionlake.sources.face_validation.bronze`. Numbers are doubles at parse time
(the API sends ``2729`` and ``0.0091`` alike) and typed in silver.
"""

from __future__ import annotations

from pyspark.sql import types as T

IMAGES = ("near_img", "far_img")
PARTITION = "event_date"

STR, DBL, BOOL, LONG = T.StringType(), T.DoubleType(), T.BooleanType(), T.LongType()


def _struct(**fields: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields.items()])


def _service(results: T.StructType) -> T.StructType:
    return _struct(msg=STR, code=STR, results=results)


def _predictions(**fields: T.DataType) -> T.StructType:
    return _service(_struct(predictions=_struct(**fields, time_ms=DBL, queue_time_ms=DBL)))


_PAD = _predictions(**{"class": STR, "prob": DBL})
IMAGE = _struct(
    integrity_dims=_service(_struct(file_ext=STR, raw_img_size=T.ArrayType(LONG), resized=BOOL)),
    # accessories: {name: {bbox, confidence}}; the bbox is left out.
    accessory_detector=_predictions(accessories=T.MapType(STR, _struct(confidence=DBL))),
    # faces (bboxes, bboxes_raw, landmarks) is left out; only the timings and the config stay.
    face_detector=_service(
        _struct(
            predictions=_struct(time_ms=DBL, queue_time_ms=DBL),
            config=_struct(exp_factor_w=DBL, exp_factor_h=DBL),
        )
    ),
    liqe=_predictions(score=DBL),
    topiq=_predictions(score=DBL),
    classic_metrics=_service(
        _struct(
            time_ms=DBL, sharpness=DBL, colorfulness=DBL, contrast=DBL, brightness=DBL, blur_score=DBL, svd_score=DBL
        )
    ),
    iqa_heuristics=_service(
        _struct(
            config=_struct(
                liqe_thr=DBL,
                topiq_thr=DBL,
                sharpness_thr=DBL,
                brightness_range=T.ArrayType(DBL),
                colofulness_range=T.ArrayType(DBL),  # sic: the API's spelling
                contrast_range=T.ArrayType(DBL),
                blur_score_thr=DBL,
                svd_score_thr=DBL,
            ),
            time_ms=DBL,
        )
    ),
    as_35_selfies=_PAD,
    ibeta2_crops=_PAD,
    ibeta2_full=_PAD,
    ibeta2_clip=_PAD,
    # config is left out: one of its keys ("as_3.5_selfies_thr") has a dot, which table formats refuse.
    as_heuristics=_service(_struct(predictions=_struct(prob=DBL, time_ms=DBL))),
)
GEOMETRY = _service(
    _struct(
        predictions=_struct(
            neural_score=DBL, time_ms=DBL, queue_time_ms=DBL, image_difference=DBL, handcrafted_score=DBL
        ),
        config=_struct(image_difference_threshold=DBL, handcrafted_threshold=DBL, neural_threshold=DBL),
    )
)

# Top-level fields of a document, in the API's order. user_data keeps only its three ids (trazabilidad is
# left out); azure_blob is left out. api_version .. preprocess_time_ms exist in other API versions.
DOCUMENT = _struct(
    _id=STR,
    api_hash=STR,
    api_version=STR,
    user_name=STR,
    service=STR,
    api_gateway_id=STR,
    file_token=STR,
    with_accessories=BOOL,
    with_iqa=BOOL,
    with_icao=BOOL,
    with_antispoofing=BOOL,
    with_geometry_check=BOOL,
    save_azure=BOOL,
    save_mongo=BOOL,
    ts=DBL,
    date=STR,
    summary=_struct(status=STR, code=STR, desc=STR),
    metadata=_struct(near_img=IMAGE, far_img=IMAGE, geometry_check=GEOMETRY),
    user_data=_struct(procesoConvenioGuid=STR, convenio=STR, documento=STR),
    http_code=DBL,
    total_time_ms=DBL,
    preprocess_time_ms=DBL,
)

# The identifying values that are replaced by keyed pseudonyms at ingestion (column paths in bronze).
PSEUDONYMISED = (
    "user_name",
    "file_token",
    "user_data.procesoConvenioGuid",
    "user_data.convenio",
    "user_data.documento",
)

# Fields that hold MongoDB Extended JSON ({"$oid": ...}, {"$date": ...}) as text: an object there is expected.
JSON_TEXT = ("_id", "date")

# Known paths of the document that the allowlist leaves out on purpose, and the key names found under them
# (plus accessory names, which are map keys): schema-drift detection reports fields outside these and DOCUMENT.
IGNORED = (
    "azure_blob",
    "user_data.trazabilidad",
    "metadata.*.face_detector.results.predictions.faces",
    "metadata.*.accessory_detector.results.predictions.accessories[].bbox",
    "metadata.*.as_heuristics.results.config",
)
IGNORED_NAMES = (
    *("azure_blob", "trazabilidad", "faces"),
    *("Camara", "City", "Country", "Device", "Error", "Ip", "Latitud", "Lenguaje", "Longitud", "Navegador"),
    *("NumDoc", "PostalCode", "ProcessGuid", "Resolucion", "ResolucionCamera", "Subdivision", "Tiempo"),
    *("UserAgent", "VersionNavegador", "account_name", "container_name", "path", "bbox", "bboxes", "bboxes_raw"),
    *("landmarks", "as_3.5_selfies_thr", "as_heuristics_thr", "ibeta2_clip_thr", "ibeta2_crops_thr"),
    *("ibeta2_full_thr", "face", "hand", "sunglasses", "glasses", "hat", "mask", "cap"),
)

LINEAGE = [
    T.StructField("source_path", STR, False),
    T.StructField("source_offset", LONG, False),  # byte offset of the document in its file
    T.StructField("source_size", LONG, False),
    T.StructField("source_modified_at", T.TimestampType(), False),
    T.StructField("doc_sha256", STR, True),  # of the document's bytes as read
    T.StructField("content_sha256", STR, True),  # of the redacted, pseudonymised document
    T.StructField("parse_error", STR, True),  # "<reason>: <detail>" when the document could not be parsed
    T.StructField("new_fields", T.ArrayType(STR), True),  # "<path>:<json type>" of fields DOCUMENT does not declare
    T.StructField("run_id", STR, False),
    T.StructField("ingested_at", T.TimestampType(), False),
    T.StructField("ingest_date", T.DateType(), False),
]
BRONZE = T.StructType([*DOCUMENT.fields, *LINEAGE])

# ---- silver api_calls: the 79 staging columns of the reference, in its order ------------------------------

IQA_METRICS = ("liqe", "topiq")
CLASSIC_METRICS = ("sharpness", "colorfulness", "contrast", "brightness", "blur_score", "svd_score")
PAD_MODELS = ("as_35_selfies", "ibeta2_crops", "ibeta2_full", "ibeta2_clip", "as_heuristics")
QUEUED_SERVICES = (
    "accessory_detector",
    "face_detector",
    "liqe",
    "topiq",
    "as_35_selfies",
    "ibeta2_crops",
    "ibeta2_full",
    "ibeta2_clip",
)
SERVICES = (
    "accessory_detector",
    "face_detector",
    "liqe",
    "topiq",
    "classic_metrics",
    "as_35_selfies",
    "ibeta2_crops",
    "ibeta2_full",
    "ibeta2_clip",
    "geometry_check",
)


def _staging() -> list[tuple[str, str, T.DataType]]:
    """(column, bronze path, type) of the 79 staging columns."""
    ints, doubles = T.IntegerType(), DBL
    cols: list[tuple[str, str, T.DataType]] = [
        ("api_hash", "api_hash", STR),
        ("user_name", "user_name", STR),
        ("file_token", "file_token", STR),
        ("service", "service", STR),
        ("summary_code", "summary.code", ints),
        ("summary_status", "summary.status", STR),
        ("summary_desc", "summary.desc", STR),
        ("http_code", "http_code", ints),
        ("total_time_ms", "total_time_ms", ints),
        ("date", "date", T.TimestampType()),
        ("procesoConvenioGuid", "user_data.procesoConvenioGuid", STR),
        ("convenio", "user_data.convenio", STR),
        ("documento", "user_data.documento", STR),
    ]
    for img in IMAGES:
        for index, side in enumerate(("width", "height")):
            path = f"metadata.{img}.integrity_dims.results.raw_img_size[{index}]"
            cols.append((f"img_size_{img}_{side}", path, ints))
    for metric in IQA_METRICS:
        cols += [
            (f"score_{metric}_{img}", f"metadata.{img}.{metric}.results.predictions.score", doubles) for img in IMAGES
        ]
    for metric in CLASSIC_METRICS:
        cols += [
            (f"score_{metric}_classic_metrics_{img}", f"metadata.{img}.classic_metrics.results.{metric}", doubles)
            for img in IMAGES
        ]
    for model in PAD_MODELS:
        cols += [(f"prob_{model}_{img}", f"metadata.{img}.{model}.results.predictions.prob", doubles) for img in IMAGES]
    for service in QUEUED_SERVICES:
        for kind in ("time_ms", "queue_time_ms"):
            cols += [
                (f"{kind}_{service}_{img}", f"metadata.{img}.{service}.results.predictions.{kind}", doubles)
                for img in IMAGES
            ]
    cols += [
        (f"time_ms_classic_metrics_{img}", f"metadata.{img}.classic_metrics.results.time_ms", doubles) for img in IMAGES
    ]
    cols += [
        ("time_ms_geometry_check", "metadata.geometry_check.results.predictions.time_ms", doubles),
        ("queue_time_ms_geometry_check", "metadata.geometry_check.results.predictions.queue_time_ms", doubles),
    ]
    return cols


STAGING = _staging()
API_CALLS_EXTRA = [
    T.StructField("summary_code_raw", STR),
    T.StructField("summary_module", STR),
    T.StructField(PARTITION, T.DateType()),
]

# summary code prefix -> module (reference §3, the response table)
MODULES = {
    "00": "integrity",
    "01": "face_detector",
    "02": "accessory_detector",
    "03": "quality",
    "04": "icao",
    "14": "antispoofing",
    "20": "database",
    "30": "geometry",
}
API_CALLS = T.StructType([*(T.StructField(name, kind) for name, _, kind in STAGING), *API_CALLS_EXTRA])
