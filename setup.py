from setuptools import find_packages, setup

setup(
    name="visionlake",
    version="0.1.0",
    description="A Spark lake pipeline for the JSON that computer-vision APIs emit",
    package_dir={"": "lib"},
    packages=find_packages("lib"),
    package_data={"visionlake": ["*.properties", "*.yaml"]},
    python_requires=">=3.11",
    install_requires=[
        "pyspark>=3.5,<3.6",
        "deltalake>=1.6,<2",
        "pyarrow>=15",
        "pandas>=2,<3",
        "boto3>=1.34",
        "duckdb>=2,<3",
        "pyyaml>=6",
        "matplotlib>=3.8,<4",
    ],
    entry_points={"console_scripts": ["visionlake=visionlake.cli:entry_point"]},
)
