#!/usr/bin/env bash
# riskml.explain mirrors LightGBM's decisions and dump_model, so pyproject.toml pins a range
# (lightgbm>=4.3,<5). This runs tests/explain (every value against pred_contrib and
# shap.TreeExplainer) on each LightGBM release of that range, not only the installed one:
# each release is installed into its own folder (from the package registry) and put first on
# PYTHONPATH. Run it before widening the pin or after a LightGBM release.
#   bash scripts/check_lightgbm_versions.sh [VERSION ...]   (default: 4.3.0 4.4.0 4.5.0 4.6.0 4.7.0)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.3.0 4.4.0 4.5.0 4.6.0 4.7.0)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for v in "${versions[@]}"; do
  $PY -m pip install --quiet --no-deps --target "$work/lightgbm-$v" "lightgbm==$v"
  got=$(PYTHONPATH="$work/lightgbm-$v" $PY -c "import lightgbm; print(lightgbm.__version__)")
  if [ "$got" != "$v" ]; then
    echo "lightgbm $v: imported $got instead" >&2
    failed+=("$v")
    continue
  fi
  if PYTHONPATH="$work/lightgbm-$v" $PY -m pytest -q -p no:cacheprovider -m "slow or not slow" tests/explain; then
    echo "lightgbm $v: tests/explain passed"
  else
    failed+=("$v")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "tests/explain failed with lightgbm ${failed[*]}" >&2
  exit 1
fi
echo "tests/explain passed with lightgbm ${versions[*]}"
