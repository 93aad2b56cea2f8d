#!/bin/sh
# Guest agent (busybox sh): runs shell commands the host sends over a serial port.
#
# Protocol, one line each way, "\n"-terminated:
#   on start      agent -> host   {"ready":true}
#   request       host  -> agent  <id> <timeout seconds> <base64 of the shell script>
#   reply         agent -> host   {"id":<id>,"exit":<status>,"stdout":"<base64>","stderr":"<base64>"}
#   bad request   agent -> host   {"error":"<what>"}
# The script runs under `sh` with stdin from /dev/null and is killed (exit 137) after its timeout. It gets the
# agent's port as fd 3, for an event line written later by something it starts (one write(2) per line, so it
# does not interleave with the agent's replies): the rig's VMM launcher reports the VMM's exit that way.
# Usage: agent PORT (a serial tty, or a virtio-serial port, which can be open only once at a time)

tty="$1"
work=/run/agent
mkdir -p "$work"

exec 3<> "$tty"
exec 0<&3 1>&3 2> /dev/console
# On a tty, raw mode: no echo, no line editing, no CR/NL translation, so base64 and JSON pass unchanged.
if [ -t 0 ]; then stty raw -echo; fi

is_number() {
  case "$1" in '' | *[!0-9]*) return 1 ;; esac
}

echo '{"ready":true}'
while read -r id secs script; do
  if ! is_number "$id" || ! is_number "$secs"; then
    echo '{"error":"expected: <id> <timeout seconds> <base64 script>"}'
    continue
  fi
  if ! echo "$script" | base64 -d > "$work/script" 2> /dev/null; then
    echo "{\"id\":$id,\"error\":\"script is not valid base64\"}"
    continue
  fi
  timeout -s KILL "$secs" sh "$work/script" < /dev/null > "$work/stdout" 2> "$work/stderr"
  status=$?
  echo "{\"id\":$id,\"exit\":$status,\"stdout\":\"$(base64 -w 0 "$work/stdout")\",\"stderr\":\"$(base64 -w 0 "$work/stderr")\"}"
done
echo '{"error":"agent input closed"}'
