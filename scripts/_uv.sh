# Sourced by the other scripts: make sure uv is on PATH (installed from PyPI, never a script).
# pip --user puts it in ~/.local/bin, which a fresh shell often does not have on PATH.
if ! command -v uv >/dev/null 2>&1 && [ -x "$HOME/.local/bin/uv" ]; then
  export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v uv >/dev/null 2>&1; then
  echo "==> installing uv from PyPI" >&2
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
