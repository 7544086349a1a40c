#!/usr/bin/env bash
# Install the system packages riskml's reports, PDF checks, browser tests and Spark path need,
# where the machine allows it (root + apt). Safe to run repeatedly; prints what it skipped.
#   - fonts-wqy-microhei: a CJK font so Chinese renders as Chinese (HTML, PDF, matplotlib)
#   - libpango-1.0-0 libpangoft2-1.0-0: WeasyPrint's text layout (PDF reports)
#   - poppler-utils: pdftoppm / pdffonts, used by the report tests
#   - chromium: headless browser for the HTML report tests
#   - Java 17 (default-jre-headless) only if no java is on PATH: Spark needs it
set -u
pkgs=()
fc-list 2>/dev/null | grep -qiE "WenQuanYi|Noto Sans CJK|Noto Serif CJK" || pkgs+=(fonts-wqy-microhei fontconfig)
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || pkgs+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v pdftoppm >/dev/null 2>&1 || pkgs+=(poppler-utils)
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
command -v java >/dev/null 2>&1 || pkgs+=(default-jre-headless)
if ((${#pkgs[@]} == 0)); then
  echo "system deps: all present"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system deps: cannot install ${pkgs[*]} (needs root and apt-get); tests that need them are skipped with a reason" >&2
  exit 0
fi
echo "system deps: installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 \
  || { echo "system deps: apt-get install failed for ${pkgs[*]}; dependent tests will be skipped" >&2; exit 0; }
fc-cache -f >/dev/null 2>&1 || true
echo "system deps: done"
