"""Gold face_recognition tables: which silver table each is built from, and with which settings.

Every gold table is rebuilt whole from one silver table (:mod:`.slo`, :mod:`.funnel`, :mod:`.accuracy`,
:mod:`.loadtest` hold the rules); the settings come from ``face_recognition`` in the config.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame

from visionlake.config import FaceRecognitionSettings
from visionlake.errors import ConfigError
from visionlake.sources.face_recognition import accuracy, funnel, loadtest, slo

Builder = Callable[[DataFrame, FaceRecognitionSettings], DataFrame]


def objectives(settings: FaceRecognitionSettings) -> slo.Objectives:
    """The SLO parameters of ``settings``.

    Raises:
        ConfigError: a setting the SLO rules cannot use (e.g. a burn-rate window that is not whole 5-minute buckets).
    """
    try:
        return slo.Objectives(
            latency_target_ms=float(settings.latency_target_ms),
            availability=float(settings.availability_slo),
            latency=float(settings.latency_slo),
            window_days=int(settings.slo_window_days),
            min_requests=int(settings.burn_min_requests),
            burn_rules=tuple((r.long, r.short, r.factor, r.severity) for r in settings.burn_rules),
        )
    except ValueError as exc:
        raise ConfigError(f"face_recognition: {exc}") from exc


def check_settings(settings: FaceRecognitionSettings) -> None:
    """Refuse settings the gold rules cannot use, before anything is read.

    Raises:
        ConfigError: a bad SLO setting or k6 threshold expression.
    """
    objectives(settings)
    try:
        loadtest.parse_thresholds(dict(settings.k6_thresholds))
    except ValueError as exc:
        raise ConfigError(f"face_recognition.k6_thresholds: {exc}") from exc


# gold table -> (the silver table it is built from, how)
BUILDERS: dict[str, tuple[str, Builder]] = {
    "slo_daily": ("requests", lambda df, s: slo.build_slo_daily(df, objectives(s))),
    "slo_hourly": ("requests", lambda df, s: slo.build_slo_hourly(df, objectives(s))),
    "burn_rate_alerts": ("requests", lambda df, s: slo.build_burn_rate_alerts(df, objectives(s))),
    "enrollment_funnel": ("requests", lambda df, s: funnel.build_enrollment_funnel(df)),
    "evaluation_rates": ("evaluations", lambda df, s: accuracy.build_evaluation_rates(df)),
    "threshold_sweep": ("evaluations", lambda df, s: accuracy.build_threshold_sweep(df, list(s.threshold_grid))),
    "load_test_summary": (
        "load_test_points",
        lambda df, s: loadtest.build_load_test_summary(df, {k: list(v) for k, v in s.k6_thresholds.items()}),
    ),
}
