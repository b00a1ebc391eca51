#!/usr/bin/env bash
# Deploy the Ship/Captain/Crew app. Run from the repo root on a laptop with the
# qosd AWS profile. Usage: ./deploy.sh [backend|frontend|all]
set -euo pipefail

FUNCTION_NAME="${FUNCTION_NAME:-qosd-app}"
SITE_BUCKET="${SITE_BUCKET:-qosd-site-frontend}"
DISTRIBUTION_ID="${DISTRIBUTION_ID:-E2QOSDEXAMPLE01}"
AWS_PROFILE="${AWS_PROFILE:-qosd}"
export AWS_PROFILE AWS_REGION="us-west-2"

what="${1:-all}"

deploy_backend() {
  rm -rf build && mkdir -p build/pkg
  pip install -q -r requirements.txt -t build/pkg
  cp lambda/*.py build/pkg/
  (cd build/pkg && zip -qr ../function.zip .)
  # overwrites $LATEST in place: no version is published, so there is nothing to roll back to
  aws lambda update-function-code \
    --function-name "$FUNCTION_NAME" \
    --zip-file fileb://build/function.zip \
    --query 'LastModified' --output text
}

deploy_frontend() {
  aws s3 sync frontend/ "s3://$SITE_BUCKET/" --delete
  aws cloudfront create-invalidation \
    --distribution-id "$DISTRIBUTION_ID" \
    --paths "/*" \
    --query 'Invalidation.Id' --output text
}

case "$what" in
  backend) deploy_backend ;;
  frontend) deploy_frontend ;;
  all) deploy_backend; deploy_frontend ;;
  *) echo "usage: $0 [backend|frontend|all]" >&2; exit 2 ;;
esac

echo "deployed $what at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
