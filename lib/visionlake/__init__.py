"""visionlake: a Spark lake pipeline for the JSON that computer-vision APIs emit."""

__version__ = "0.1.0"
