"""Gold tables of face_validation, from silver ``api_calls`` (reference §2: the workshop's transform rules).

:func:`with_transaction_columns` derives every rule once; the tables select from it:
- ``transactions``: the 67 columns of the transform table, one row per API call;
- ``transactions_final``: the last attempt of each process;
- ``client_acceptance_daily``, ``microservice_latency_daily``, ``retry_transitions``, ``response_codes``.

Choices where the reference is silent or wrong: an unknown image size gives null quality and aspect
ratio (pandas gave LOWERSCALES / PORTRAIT); the far image's quality uses its own height; the names are
``date_day_of_week`` and ``..._microservices``. Attempts of a process are ordered by ``date``, then an
``ok`` attempt after an error one at the same instant (a process ends at its first acceptance), then
``file_token``. Daily tables use the local date (``local_timezone``) of the call, or of the process's
final attempt for ``client_acceptance_daily``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visionlake.sources.face_validation.schema import (
    CLASSIC_METRICS,
    IMAGES,
    IQA_METRICS,
    PAD_MODELS,
    SERVICES,
    STAGING,
)
from visionlake.transforms.times import local_in_years

# Image quality by area, checked in this order with >= (4K before ULTRAHD, as in the reference).
QUALITY_AREAS = [
    ("8K", 7680 * 4320),
    ("4K", 4096 * 2160),
    ("ULTRAHD", 3840 * 2160),
    ("FULLHD", 1920 * 1080),
    ("HD", 1280 * 720),
    ("XGA", 1024 * 768),
    ("SD", 640 * 480),
    ("QVGA", 320 * 240),
]
LOWEST_QUALITY = "LOWERSCALES"
MISSING_TIME, MISSING_PROB, MISSING_SCORE = 0.0, -1.0, -2.0
OTHER = "other"

SCORES = [f"score_{m}_{img}" for m in IQA_METRICS for img in IMAGES] + [
    f"score_{m}_classic_metrics_{img}" for m in CLASSIC_METRICS for img in IMAGES
]
PROBS = [f"prob_{m}_{img}" for m in PAD_MODELS for img in IMAGES]
TIMES = [name for name, _, _ in STAGING if "time_ms_" in name]
SIZES = [f"img_size_{img}_{side}" for img in IMAGES for side in ("width", "height")]
DATE_PARTS = ["date_year", "date_month", "date_day", "date_day_of_week", "date_hour", "date_minute"]
TOTALS = [f"total_time_ms_{s}" for s in SERVICES]
TRANSACTIONS = [
    "api_hash",
    "user_name",
    "file_token",
    "service",
    "summary_code",
    "summary_status",
    "summary_desc",
    "http_code",
    "procesoConvenioGuid",
    "convenio",
    "documento",
    *SIZES,
    "image_quality_near_img",
    "image_quality_far_img",
    "same_image_quality",
    "aspect_ratio_near_img",
    "aspect_ratio_far_img",
    "same_aspect_ratio",
    *SCORES,
    *PROBS,
    "date",
    *DATE_PARTS,
    *TOTALS,
    "total_time_ms_all_microservices",
    "total_time_ms_other_microservices",
    "total_time_ms",
]


def aspect_ratio(width: Column, height: Column) -> Column:
    return F.when(width == height, "SQUARE").when(width > height, "LANDSCAPE").when(width < height, "PORTRAIT")


def image_quality(width: Column, height: Column) -> Column:
    area = width.cast("long") * height.cast("long")
    quality = F.when(area.isNull(), F.lit(None).cast("string"))
    for name, threshold in QUALITY_AREAS:
        quality = quality.when(area >= threshold, name)
    return quality.otherwise(LOWEST_QUALITY)


def _service_times(service: str) -> list[str]:
    """The time columns of a service: near + far + both queues (one pair for classic_metrics and geometry)."""
    return [c for c in TIMES if c.endswith(f"time_ms_{service}") or f"time_ms_{service}_" in c]


def client_name(convenio: Column, names: Mapping[str, str]) -> Column:
    """The client's display name: ``names`` maps convenio pseudonyms to names; any other client shows as
    ``client-`` and the first 8 characters of its pseudonym (never the 64-character hash)."""
    short = F.concat(F.lit("client-"), F.substring(convenio, 1, 8))
    if not names:
        return F.when(convenio.isNotNull(), short)
    mapping = F.create_map(*[F.lit(v) for pair in sorted(names.items()) for v in pair])
    return F.when(convenio.isNotNull(), F.coalesce(F.element_at(mapping, convenio), short))


def with_transaction_columns(
    api_calls: DataFrame, local_timezone: str, client_names: Mapping[str, str] | None = None
) -> DataFrame:
    """api_calls plus every derived column of ``transactions`` and ``local_date`` / ``ran_<service>`` /
    ``client_name`` helpers (``client_names``: convenio pseudonym -> display name). A local time out of the years
    1900-9999 has no local date nor parts (silver refuses such a date in the zone it ran with; the zone may have
    changed since: a local date of year 10000 cannot be written)."""
    local = local_in_years("date", local_timezone)
    derived: dict[str, Column] = {
        f"ran_{s}": F.greatest(*[F.col(c).isNotNull() for c in _service_times(s)]) for s in SERVICES
    }
    derived["client_name"] = client_name(F.col("convenio"), client_names or {})
    for img in IMAGES:
        width, height = F.col(f"img_size_{img}_width"), F.col(f"img_size_{img}_height")
        derived[f"image_quality_{img}"] = image_quality(width, height)
        derived[f"aspect_ratio_{img}"] = aspect_ratio(width, height)
    derived.update(
        {
            "local_date": F.to_date(local),
            "date_year": F.year(local),
            "date_month": F.date_format(local, "MMMM"),
            "date_day": F.dayofmonth(local),
            "date_day_of_week": F.date_format(local, "EEEE"),
            "date_hour": F.hour(local),
            "date_minute": F.minute(local),
        }
    )
    filled = {c: F.coalesce(F.col(c), F.lit(MISSING_TIME)) for c in TIMES}
    filled.update({c: F.coalesce(F.col(c), F.lit(MISSING_PROB)) for c in PROBS})
    filled.update({c: F.coalesce(F.col(c), F.lit(MISSING_SCORE)) for c in SCORES})
    filled["total_time_ms"] = F.coalesce(F.col("total_time_ms"), F.lit(0))
    df = api_calls.withColumns(derived).withColumns(filled)
    totals = {f"total_time_ms_{s}": sum((F.col(c) for c in _service_times(s)), F.lit(0.0)) for s in SERVICES}
    df = df.withColumns(
        {
            **totals,
            "same_image_quality": F.col("image_quality_far_img") == F.col("image_quality_near_img"),
            "same_aspect_ratio": F.col("aspect_ratio_far_img") == F.col("aspect_ratio_near_img"),
        }
    )
    everything = sum((F.col(c) for c in TOTALS), F.lit(0.0))
    return df.withColumns(
        {
            "total_time_ms_all_microservices": everything,
            "total_time_ms_other_microservices": F.col("total_time_ms") - everything,
        }
    )


def build_transactions(derived: DataFrame) -> DataFrame:
    return derived.select(*TRANSACTIONS)


def _attempts(derived: DataFrame) -> DataFrame:
    """derived plus ``attempt`` (1-based), ``attempts`` and the next attempt's code and desc, per process. A document
    without a procesoConvenioGuid is in no process, as the reference's groupby drops null keys (until Dec 6 they
    made one process across clients: made-up retries, and clients missing from client_acceptance_daily)."""
    ok_last = (F.col("summary_status") == "ok").cast("int")
    order = Window.partitionBy("procesoConvenioGuid").orderBy("date", ok_last, "file_token")
    whole = Window.partitionBy("procesoConvenioGuid")
    return derived.where(F.col("procesoConvenioGuid").isNotNull()).withColumns(
        {
            "attempt": F.row_number().over(order),
            "attempts": F.count("*").over(whole),
            "next_summary_code": F.lead("summary_code").over(order),
            "next_summary_desc": F.lead("summary_desc").over(order),
        }
    )


def build_transactions_final(derived: DataFrame) -> DataFrame:
    attempts = _attempts(derived)
    return attempts.where(F.col("attempt") == F.col("attempts")).select(*TRANSACTIONS)


def build_client_acceptance_daily(derived: DataFrame) -> DataFrame:
    """Per client and local date of the processes' final attempts."""
    ok = F.col("summary_status") == "ok"
    processes = (
        _attempts(derived)
        .groupBy("procesoConvenioGuid")
        .agg(
            F.max_by("convenio", "attempt").alias("convenio"),
            F.max_by("client_name", "attempt").alias("client_name"),
            F.max_by("local_date", "attempt").alias("local_date"),
            F.max_by(ok, "attempt").alias("accepted"),
            F.min_by(ok, "attempt").alias("first_accepted"),
            F.count("*").alias("attempts"),
        )
    )
    return (
        processes.groupBy("convenio", "client_name", "local_date")
        .agg(
            F.count("*").alias("processes"),
            F.sum(F.col("accepted").cast("long")).alias("accepted"),
            F.avg(F.col("accepted").cast("double")).alias("acceptance_rate"),
            F.avg(F.col("first_accepted").cast("double")).alias("first_attempt_acceptance_rate"),
            F.sum("attempts").alias("attempts"),
        )
        .withColumn("attempts_per_process", F.col("attempts") / F.col("processes"))
    )


def build_microservice_latency_daily(derived: DataFrame) -> DataFrame:
    """Per local date and service (the ten and ``other``): calls where it ran, mean/p50/p95/p99 ms over
    those calls, its share of the day's total time, and the ten services' rank by that share (1 = the
    bottleneck). ``other`` (time no service reported: network, gateway, the API itself) has its row and a null
    rank: it is not a microservice one could name as the bottleneck."""
    per_service = [
        F.struct(F.lit(s).alias("service"), F.col(f"total_time_ms_{s}").alias("ms"), F.col(f"ran_{s}").alias("ran"))
        for s in SERVICES
    ]
    per_service.append(
        F.struct(
            F.lit(OTHER).alias("service"),
            F.col("total_time_ms_other_microservices").alias("ms"),
            F.lit(True).alias("ran"),
        )
    )
    day_total = Window.partitionBy("local_date")
    long = (
        derived.withColumn("day_ms", F.sum("total_time_ms").over(day_total))
        .select("local_date", "day_ms", F.explode(F.array(*per_service)).alias("s"))
        .select("local_date", "day_ms", "s.*")
    )
    ran = long.where("ran")
    stats = ran.groupBy("local_date", "service").agg(
        F.count("*").alias("calls"),
        F.avg("ms").alias("mean_ms"),
        F.percentile("ms", 0.5).alias("p50_ms"),
        F.percentile("ms", 0.95).alias("p95_ms"),
        F.percentile("ms", 0.99).alias("p99_ms"),
        (F.sum("ms") / F.first("day_ms")).alias("share_of_total_time"),
    )
    is_other = F.col("service") == OTHER
    rank = Window.partitionBy("local_date", is_other).orderBy(F.desc("share_of_total_time"), "service")
    return stats.withColumn("rank", F.when(~is_other, F.row_number().over(rank)))


def build_retry_transitions(derived: DataFrame) -> DataFrame:
    """Counts of attempt n -> attempt n+1 within a process; a final attempt goes to null (no further attempt)."""
    return (
        _attempts(derived)
        .groupBy(
            F.col("summary_code").alias("from_summary_code"),
            F.col("summary_desc").alias("from_summary_desc"),
            F.col("next_summary_code").alias("to_summary_code"),
            F.col("next_summary_desc").alias("to_summary_desc"),
        )
        .agg(F.count("*").alias("transitions"))
    )


def build_response_codes(derived: DataFrame) -> DataFrame:
    return derived.groupBy(
        "summary_code", "summary_desc", "summary_module", "image_quality_near_img", "aspect_ratio_near_img"
    ).agg(F.count("*").alias("calls"))


BUILDERS = {
    "transactions": build_transactions,
    "transactions_final": build_transactions_final,
    "client_acceptance_daily": build_client_acceptance_daily,
    "microservice_latency_daily": build_microservice_latency_daily,
    "retry_transitions": build_retry_transitions,
    "response_codes": build_response_codes,
}
