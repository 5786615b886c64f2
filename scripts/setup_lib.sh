# Sourced by setup.sh (and by tests/test_setup_scripts.py): which stack and interpreter fit
# this host, and which package index uv should use.

# stack_for_glibc X.Y: "STACK VERSION..." with the Python versions the stack supports,
# newest first. TFX 1.21's ml-metadata and TFDV wheels need glibc >= 2.39.
stack_for_glibc() {
  if [ "$(printf '%s\n2.39\n' "$1" | sort -V | head -1)" = "2.39" ]; then
    echo "modern 3.13 3.12 3.11"
  else
    echo "compatible 3.10"
  fi
}

# minor_version PYTHON: the X.Y of a working interpreter with the venv module, or nothing.
minor_version() {
  [ -x "$1" ] && "$1" -c 'import sys, venv; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

# find_python VERSION...: the interpreter to use. PYTHON if set (checked by the caller);
# else `python3` on PATH when it is one of VERSIONS (the distribution's own Python); else
# the first of python3.X on PATH, in pyenv, in /usr/bin or /usr/local/bin, newest X first.
find_python() {
  local candidate version candidates pyenv_root
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  pyenv_root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  candidates=("$(command -v python3 || true)")
  for version in "$@"; do
    candidates+=("$(command -v "python$version" || true)"
                 "$pyenv_root"/versions/"$version".*/bin/python"$version"
                 /usr/bin/python"$version" /usr/local/bin/python"$version")
  done
  for candidate in "${candidates[@]}"; do
    # pyenv's shims exist for every version pyenv knows; only a working interpreter counts.
    version=$(minor_version "$candidate") || continue
    if [[ " $* " == *" $version "* ]]; then echo "$candidate"; return; fi
  done
}

# uv does not read pip's configuration, so a user whose pip points at another package index
# would otherwise install the lock from a different source than pip uses. These turn pip's
# index settings into the environment variables uv reads.

# uv_index_configured: true when the user set uv's own index variables.
uv_index_configured() {
  local name
  for name in UV_INDEX_URL UV_DEFAULT_INDEX UV_INDEX UV_EXTRA_INDEX_URL UV_FIND_LINKS \
              UV_NO_INDEX; do
    [ -z "${!name:-}" ] || return 0
  done
  return 1
}

# uv_env_from_pip: reads `pip config list` output on stdin (empty when there is no pip) and
# prints NAME=VALUE lines for uv, one a line. Precedence as pip applies it: PIP_* variables,
# then the [install] section, then [global]. Prints nothing when the user already set uv's
# own index variables: those win, as they would for uv alone.
uv_env_from_pip() {
  if uv_index_configured; then cat >/dev/null; return 0; fi
  local config index extra links no_index cert
  config=$(cat)
  words() { tr -s ' \t\n' '\n' <<<"$1" | grep -v '^$' | paste -sd "$2"; }
  pip_setting() {  # pip_setting KEY ENV_NAME: the value pip would use for KEY
    local env_name=$2 value section line
    if [ -n "${!env_name:-}" ]; then echo "${!env_name}"; return; fi
    for section in :env: install global; do
      line=$(grep -F -- "$section.$1=" <<<"$config" | tail -1) || true
      if [ -n "$line" ]; then
        # pip prints a Python repr: quoted, a multi-line value's newlines as \n.
        value=${line#*=}; value=${value#\'}; value=${value%\'}; value=${value//\\n/ }
        echo "$value"; return
      fi
    done
  }
  index=$(pip_setting index-url PIP_INDEX_URL)
  extra=$(pip_setting extra-index-url PIP_EXTRA_INDEX_URL)
  links=$(pip_setting find-links PIP_FIND_LINKS)
  no_index=$(pip_setting no-index PIP_NO_INDEX)
  cert=$(pip_setting cert PIP_CERT)
  [ -z "$index" ] || echo "UV_INDEX_URL=$index"
  [ -z "$extra" ] || echo "UV_EXTRA_INDEX_URL=$(words "$extra" ' ')"
  # pip separates find-links with white space, uv with commas.
  [ -z "$links" ] || echo "UV_FIND_LINKS=$(words "$links" ,)"
  case "$no_index" in 1|true|yes|on) echo "UV_NO_INDEX=1" ;; esac
  # pip takes every version from every index and picks the best; uv's default takes a package
  # only from the first index that has it, which a partial mirror would break.
  if [ -n "$extra$links" ]; then echo "UV_INDEX_STRATEGY=unsafe-best-match"; fi
  if [ -n "$cert" ] && [ -z "${SSL_CERT_FILE:-}" ]; then echo "SSL_CERT_FILE=$cert"; fi
}
