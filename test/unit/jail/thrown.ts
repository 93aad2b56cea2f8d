/** The error `fn` throws; fails the test when it throws none. For tests that check the error's class and text. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}
