#!/usr/bin/env bash
# One visionlake EMR step: sets up the environment the command needs, runs it, optionally uploads a file.
#
#   step.sh [--pii-secret SECRET_ID] [--upload FILE S3_URI] [--] COMMAND [ARG...]
#
# bootstrap.sh put this script, conf/, jobs/ and a Python 3.11 virtualenv (venv/) under the same folder on
# every node (/opt/visionlake); the steps in steps.json call it through command-runner.jar, on the
# primary node. It exports:
#   VISIONLAKE_CONF_DIR    <folder>/conf: the wheel holds no conf/, and load_config looks here
#   PYSPARK_PYTHON, PYSPARK_DRIVER_PYTHON
#                          <folder>/venv/bin/python, the same path on every node: the driver (client mode, a
#                          child of this process) and the executors run Python 3.11 with visionlake installed
#   PATH                   <folder>/venv/bin first, for the `visionlake` command
#   AWS_REGION, AWS_DEFAULT_REGION
#                          when unset, the node's region (instance metadata), for the AWS CLI, boto3 and delta-rs
#   VISIONLAKE_PII_KEY     with --pii-secret: the SecretString of that AWS Secrets Manager secret, read with the
#                          instance profile's credentials. Only the secret's name is in the step; its value lives in
#                          this process's environment and its children's, and is never printed.
# --upload: after COMMAND succeeded, `aws s3 cp FILE S3_URI` (visionlake report writes a local file).
# Exit status: COMMAND's; 1 when the secret cannot be read or the upload fails; 2 for bad arguments.
set -euo pipefail

die() {
  echo "step.sh: $1" >&2
  exit "${2:-1}"
}

home=${VISIONLAKE_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
secret_id=""
upload_file=""
upload_uri=""
while (($#)); do
  case $1 in
    --pii-secret)
      (($# >= 2)) || die "--pii-secret needs a secret id" 2
      secret_id=$2
      shift 2
      ;;
    --upload)
      (($# >= 3)) || die "--upload needs a file and an s3:// URI" 2
      upload_file=$2
      upload_uri=$3
      shift 3
      ;;
    --)
      shift
      break
      ;;
    -*) die "unknown option $1" 2 ;;
    *) break ;;
  esac
done
(($#)) || die "usage: step.sh [--pii-secret SECRET_ID] [--upload FILE S3_URI] [--] COMMAND [ARG...]" 2

export VISIONLAKE_CONF_DIR=${VISIONLAKE_CONF_DIR:-$home/conf}
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$home/venv/bin/python}
export PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$PYSPARK_PYTHON}
export PATH="$home/venv/bin:$PATH"
[[ -f $VISIONLAKE_CONF_DIR/base.yaml ]] || die "no $VISIONLAKE_CONF_DIR/base.yaml: did bootstrap.sh run on this node?"

region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
if [[ -z $region ]]; then # IMDSv2; empty when not on EC2
  token=$(curl -sf -m 2 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" \
    http://169.254.169.254/latest/api/token || true)
  if [[ -n $token ]]; then
    region=$(curl -sf -m 2 -H "X-aws-ec2-metadata-token: $token" \
      http://169.254.169.254/latest/meta-data/placement/region || true)
  fi
fi
if [[ -n $region ]]; then
  export AWS_REGION=$region AWS_DEFAULT_REGION=$region
fi

if [[ -n $secret_id ]]; then
  key=$(aws secretsmanager get-secret-value --secret-id "$secret_id" --query SecretString --output text \
    ${region:+--region "$region"}) || die "cannot read the secret $secret_id (does the instance profile allow secretsmanager:GetSecretValue on it?)"
  [[ -n $key && $key != None ]] || die "the secret $secret_id has no SecretString"
  export VISIONLAKE_PII_KEY=$key
  unset key
fi

status=0
"$@" || status=$?
if ((status == 0)) && [[ -n $upload_file ]]; then
  aws s3 cp --only-show-errors "$upload_file" "$upload_uri" || die "cannot upload $upload_file to $upload_uri"
  echo "uploaded $upload_file to $upload_uri"
fi
exit "$status"
