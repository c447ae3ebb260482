#!/usr/bin/env bash
# EMR bootstrap action: make a node ready to run visionlake steps. EMR runs it on every node, as user hadoop.
#
#   bootstrap.sh s3://YOUR-BUCKET/visionlake       (the prefix `make package`'s dist/ was copied to)
#
# 1. Python 3.11 (Amazon Linux 2023, the base of EMR 7.x, ships 3.9 as python3; visionlake needs 3.11).
# 2. Everything under the prefix -> /opt/visionlake: the wheel, jobs/, conf/, deploy/emr/step.sh, ...
# 3. A virtualenv there (venv/) with the pinned runtime dependencies (requirements-emr.txt: requirements.txt
#    without pyspark, which the cluster's Spark supplies) and the wheel. Same path on every node, so that
#    step.sh can point the driver and the executors at it.
# The nodes need PyPI (a NAT gateway) or a mirror: set PIP_INDEX_URL in the environment of this script.
# Environment: VISIONLAKE_HOME (default /opt/visionlake), VISIONLAKE_PYTHON (default python3.11).
set -euo pipefail

die() {
  echo "bootstrap.sh: $1" >&2
  exit 1
}

if (($# != 1)) || [[ $1 != s3://* ]]; then
  die "usage: bootstrap.sh s3://BUCKET/PREFIX (where dist/ was copied)"
fi
prefix=${1%/}
home=${VISIONLAKE_HOME:-/opt/visionlake}
python=${VISIONLAKE_PYTHON:-python3.11}

if ! command -v "$python" >/dev/null 2>&1; then
  sudo dnf install -y -q python3.11 python3.11-pip
fi
# under /opt, not /home/hadoop: the executors' containers run as user yarn and must reach venv/bin/python
mkdir -p "$home" 2>/dev/null || sudo install -d -o "$(id -u)" -g "$(id -g)" -m 755 "$home"
aws s3 cp --recursive --only-show-errors "$prefix/" "$home/"

shopt -s nullglob
wheels=("$home"/visionlake-*.whl)
((${#wheels[@]} == 1)) || die "expected one visionlake-*.whl under $prefix, found ${#wheels[@]}"
[[ -f $home/requirements-emr.txt ]] || die "no requirements-emr.txt under $prefix: copy all of make package's dist/"

"$python" -m venv "$home/venv"
"$home/venv/bin/pip" install --quiet --disable-pip-version-check -r "$home/requirements-emr.txt"
"$home/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "${wheels[0]}"
chmod +x "$home/deploy/emr/step.sh"
echo "visionlake ready in $home ($("$home/venv/bin/python" --version))"
