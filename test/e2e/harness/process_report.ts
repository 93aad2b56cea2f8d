// For a VMM that hangs: what each of its processes' threads is doing (kernel state, wait channel, the syscall
// it sits in with its first arguments, the kernel stack), and what the fds it waits on are. A shell script, so
// that it runs unchanged on the host and inside the outer rig VM (busybox sh).

/** Reports every process whose command line names `match` (the VMM and its device processes). */
export function processReportScript(match: string): string {
  return `
echo "== host memory: $(grep -E '^(MemTotal|MemAvailable):' /proc/meminfo | tr -s ' ' | tr '\\n' ' ')"
for d in /proc/[0-9]*; do
  cmd=$(tr '\\0' ' ' < $d/cmdline 2> /dev/null)
  case "$cmd" in *${match}*) ;; *) continue ;; esac
  case "$cmd" in *process_report*|*"for d in"*) continue ;; esac
  echo "== pid \${d#/proc/}: $cmd"
  for t in $d/task/*; do
    state=$(sed -n 's/^State:[[:space:]]*//p' $t/status 2> /dev/null)
    # utime, stime and guest_time in clock ticks (proc(5) stat fields 14, 15 and 43, counted after the comm field).
    times=$(sed 's/.*) //' $t/stat 2> /dev/null | awk '{ print "utime=" $12 " stime=" $13 " guest=" $41 }')
    echo "  tid \${t##*/} $(cat $t/comm 2> /dev/null) [$state] $times wchan=$(cat $t/wchan 2> /dev/null) syscall=$(cut -d' ' -f1-4 $t/syscall 2> /dev/null)"
    sed 's/^/      /' $t/stack 2> /dev/null | head -12
  done
  for f in $d/fd/*; do echo "  fd \${f##*/} -> $(readlink $f)"; done
done
true`;
}

/**
 * Where the host runs KVM itself (inside the outer rig VM): one second of kvm_exit/kvm_entry trace events, which
 * name each vCPU's guest RIP and exit reason, to tell a guest spinning in its own code from one waiting on the VMM;
 * and for nested page faults (reason npf), the faulting guest-physical addresses and error codes of that second
 * (kvm_page_fault), to tell a fault the host's KVM keeps fixing (RAM: the same address over and over) from MMIO.
 */
export const kvmTraceScript = `
t=/sys/kernel/tracing
[ -d $t/events ] || mount -t tracefs nodev $t 2> /dev/null
[ -d $t/events/kvm ] || { echo "no kvm trace events"; exit 0; }
echo > $t/trace
echo 1 > $t/events/kvm/kvm_exit/enable
echo 1 > $t/events/kvm/kvm_page_fault/enable 2> /dev/null
sleep 1
echo 0 > $t/events/kvm/kvm_exit/enable
echo 0 > $t/events/kvm/kvm_page_fault/enable 2> /dev/null
sed -n 's/.*kvm_exit: *\\(vcpu [0-9]* reason [^ ]* rip [^ ]*\\).*/\\1/p' $t/trace | sort | uniq -c | sort -rn | head -40
echo "== kvm_page_fault events in that second (count, event)"
sed -n 's/.*kvm_page_fault: *//p' $t/trace | sort | uniq -c | sort -rn | head -10
echo "== one kvm_exit event in full"
grep -m1 'kvm_exit:' $t/trace`;

/**
 * The lines of a process report that fit an error message (CI shows only the tail of the run): the host's memory,
 * each process and each of its threads with state, CPU times and wait channel; no stacks or fds. At most `lines`.
 */
export function reportSummary(report: string, lines = 24): string {
  const kept = report
    .split("\n")
    .filter((l) => /^(== |  tid |\s*\d+ vcpu )/.test(l))
    .map((l) => (l.length > 160 ? `${l.slice(0, 160)}...` : l));
  return kept.length > lines
    ? [...kept.slice(0, lines), `(${kept.length - lines} more)`].join("\n")
    : kept.join("\n");
}
