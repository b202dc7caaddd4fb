# apt_retry CMD...: run an apt-get command; while another installer holds apt's lock, wait for it (checking every
# $APT_EVERY seconds, default 5, up to $APT_WAIT seconds, default 300) instead of failing. Any other failure is reported at once.
apt_retry() {
  local waited=0 limit="${APT_WAIT:-300}" every="${APT_EVERY:-5}" out
  while :; do
    if out=$("$@" 2>&1); then return 0; fi
    if ! grep -qE "Could not get lock|Unable to lock" <<<"$out" || [ "$waited" -ge "$limit" ]; then
      echo "$out" >&2
      return 1
    fi
    [ "$waited" = 0 ] && echo "setup: another installer holds apt's lock; waiting for it (up to ${limit}s)" >&2
    sleep "$every"
    waited=$((waited + every))
  done
}
