# visionlake: `make setup`, `make test`, `make run`. `make help` lists every target.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := .jars
SAMPLE := sample
LAKE := lake
COUNT ?= 5000
DOCS ?= 2000
FRAMES ?= 5000
REQUESTS ?= 20000
ENV ?= local
SAGEMAKER_PYSPARK := sagemaker-pyspark==1.4.5
JAR_CACHE := $(HOME)/.cache/visionlake
DIST ?= dist
AIRFLOW_VENV := .venv-airflow
AIRFLOW_PIP := pip==26.3

.PHONY: help setup venv jars jvm-archive airflow-env chromium test run lint format package clean bench bench-linear

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## .venv with pinned dependencies, the S3A jars in .jars/, the class archive, .venv-airflow and chromium
	@# three independent installs side by side: most of their time is downloads
	$(MAKE) --no-print-directory -j3 venv airflow-env chromium

venv: ## create .venv with pinned dependencies, extract the S3A jars into .jars/ and write the class archive
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(MAKE) --no-print-directory jars
	$(MAKE) --no-print-directory jvm-archive

jvm-archive: ## the driver JVM's class archive (.jars/driver-classes.jsa): seconds off every local run's start-up
	$(BIN)/python -c "from visionlake.devtools import write_class_archive; write_class_archive()" > /dev/null 2>&1; \
	  test -s $(JARS)/driver-classes.jsa && echo "class archive written to $(JARS)/driver-classes.jsa" \
	  || echo "class archive not written (runs work without it, only start slower)"

jars: ## hadoop-aws 3.3.1 + aws-java-sdk-bundle 1.11.901 from the sagemaker-pyspark sdist (no Maven here)
	@if ls $(JARS)/hadoop-aws-*.jar $(JARS)/aws-java-sdk-bundle-*.jar >/dev/null 2>&1; then \
	  echo "S3A jars already in $(JARS)/"; \
	else \
	  mkdir -p $(JAR_CACHE) $(JARS) && \
	  ( ls $(JAR_CACHE)/sagemaker_pyspark-*.tar.gz >/dev/null 2>&1 || \
	    $(BIN)/pip download --quiet --no-deps --no-binary :all: $(SAGEMAKER_PYSPARK) -d $(JAR_CACHE) ) && \
	  tar -xzf $(JAR_CACHE)/sagemaker_pyspark-*.tar.gz -C $(JARS) --strip-components=3 --wildcards \
	    '*/deps/jars/hadoop-aws-3.3.1.jar' '*/deps/jars/aws-java-sdk-bundle-1.11.901.jar' && \
	  ls $(JARS); \
	fi

airflow-env: $(AIRFLOW_VENV)/.installed ## .venv-airflow: Airflow 3 for the DAG's tests (its pins clash with .venv's)

$(AIRFLOW_VENV)/.installed: deploy/airflow/requirements.txt
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check $(AIRFLOW_PIP)
	$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check -r deploy/airflow/requirements.txt
	touch $@

chromium: ## Debian's chromium, for the report's browser test (apt-get, only when missing; root or sudo)
	@command -v chromium >/dev/null 2>&1 && echo "chromium already installed" || { \
	  sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$sudo apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null && \
	  echo "chromium installed: $$(chromium --version 2>/dev/null)"; }

test: ## run the test suite (two pytest workers, one per core: a test file stays on one worker, the longest first)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

run: ## generate samples (once) into ./sample: $(COUNT) ALPR files, $(DOCS) face_validation documents, $(FRAMES) detections frames, $(REQUESTS) face_recognition request log lines; run all into ./lake, check and maintain it, write report.html
	@test -d $(SAMPLE)/alpr || $(BIN)/visionlake generate alpr --out $(SAMPLE)/alpr --count $(COUNT) --seed 1
	@test -d $(SAMPLE)/face_validation || \
		$(BIN)/visionlake generate face_validation --out $(SAMPLE)/face_validation --count $(DOCS) --seed 1
	time $(BIN)/visionlake run alpr --input $(SAMPLE)/alpr --lake $(LAKE) --env $(ENV)
	@test -d $(SAMPLE)/detections || \
		$(BIN)/visionlake generate detections --out $(SAMPLE)/detections --count $(FRAMES) --seed 1
	time $(BIN)/visionlake run face_validation --input $(SAMPLE)/face_validation --lake $(LAKE) --env $(ENV)
	time $(BIN)/visionlake run detections --input $(SAMPLE)/detections --lake $(LAKE) --env $(ENV)
	@test -d $(SAMPLE)/face_recognition || \
		$(BIN)/visionlake generate face_recognition --out $(SAMPLE)/face_recognition --count $(REQUESTS) --seed 1
	time $(BIN)/visionlake run face_recognition --input $(SAMPLE)/face_recognition --lake $(LAKE) --env $(ENV)
	$(BIN)/visionlake check --lake $(LAKE) --env $(ENV)
	$(BIN)/visionlake maintain --lake $(LAKE) --env $(ENV)
	$(BIN)/visionlake report --lake $(LAKE) --env $(ENV) --out report.html

bench: ## benchmarks (not tests): ALPR 25k and 251,526 files + a 10k increment, 5k from S3 at 20 ms; 34,654 face docs; 500k frames + 20k; 3M request log lines + 10k
	$(BIN)/visionlake bench alpr --files 25000 --increment 0 --no-baseline
	$(BIN)/visionlake bench alpr --files 251526 --repeat 3
	$(BIN)/visionlake bench alpr --files 5000 --s3 --repeat 3 --latency-ms 20
	$(BIN)/visionlake bench face_validation --docs 34654 --repeat 3
	$(BIN)/visionlake bench detections --frames 500000 --increment 20000 --repeat 3
	$(BIN)/visionlake bench face_recognition --requests 3000000 --increment 10000 --repeat 3

bench-linear: ## seconds per 1,000 files at 1,000,000 files (about 1.6 GB of JSON in the cache)
	$(BIN)/visionlake bench alpr --files 1000000 --repeat 1 --increment 0 --no-baseline

lint: ## ruff over lib, jobs, tests and deploy
	$(BIN)/ruff check lib jobs tests deploy

format: ## ruff format
	$(BIN)/ruff format lib jobs tests deploy

package: ## dist/ (or DIST=...): what a cluster needs: wheel, visionlake.zip (--py-files), jobs/, conf/, deploy/emr/
	@test ! -e $(DIST) || test -f $(DIST)/visionlake.zip || test -z "$$(ls -A $(DIST))" \
	  || { echo "make package: refusing to replace $(DIST), which is not a previous package"; exit 1; }
	rm -rf $(DIST) build && $(BIN)/pip wheel --quiet --no-deps -w $(DIST) .
	cd lib && zip -qr $(abspath $(DIST))/visionlake.zip visionlake -x '*/__pycache__/*'
	mkdir -p $(DIST)/jobs $(DIST)/deploy/emr
	cp jobs/*.py $(DIST)/jobs/
	cp -R conf $(DIST)/conf
	cp deploy/emr/*.sh deploy/emr/*.json deploy/emr/*.py $(DIST)/deploy/emr/
	{ echo "# requirements.txt less pyspark (the cluster's Spark supplies it), for deploy/emr/bootstrap.sh"; \
	  grep -v '^pyspark==' requirements.txt; } > $(DIST)/requirements-emr.txt

clean: ## remove the sample data, the local lake, build output and test artifacts
	rm -rf $(SAMPLE) $(LAKE) dist build spark-warehouse .pytest_cache test-artifacts report.html
