// For a VMM that hangs: what each of its processes' threads is doing (kernel state, wait channel, the syscall
// it sits in with its first arguments, the kernel stack), and what the fds it waits on are. A shell script, so
// that it runs unchanged on the host and inside the outer rig VM (busybox sh).

/** Reports every process whose command line names `match` (the VMM and its device processes). */
export function processReportScript(match: string): string {
  return `
for d in /proc/[0-9]*; do
  cmd=$(tr '\\0' ' ' < $d/cmdline 2> /dev/null)
  case "$cmd" in *${match}*) ;; *) continue ;; esac
  case "$cmd" in *process_report*|*"for d in"*) continue ;; esac
  echo "== pid \${d#/proc/}: $cmd"
  for t in $d/task/*; do
    state=$(sed -n 's/^State:[[:space:]]*//p' $t/status 2> /dev/null)
    echo "  tid \${t##*/} $(cat $t/comm 2> /dev/null) [$state] wchan=$(cat $t/wchan 2> /dev/null) syscall=$(cut -d' ' -f1-4 $t/syscall 2> /dev/null)"
    sed 's/^/      /' $t/stack 2> /dev/null | head -12
  done
  for f in $d/fd/*; do echo "  fd \${f##*/} -> $(readlink $f)"; done
done
true`;
}
