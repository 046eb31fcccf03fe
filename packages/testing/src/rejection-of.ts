/**
 * What `promise` rejects with, to assert on with `expect(...).toMatchObject({ code })`. Throws
 * (failing the test) when the promise fulfils instead.
 */
export async function rejectionOf(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('rejectionOf: expected the promise to reject, but it fulfilled');
}
