// Where a fuzz target's watchers report what they see: a finding (a bug, whatever the guest did) or a count for the
// run's stats, to show the run reached what it should.
export interface Observer {
  finding(text: string): void;
  tally(key: string, n?: number): void;
}
