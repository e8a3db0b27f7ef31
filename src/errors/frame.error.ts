/** Why a byte stream was refused; the link closes with `protocol-error`. */
export class FrameError extends Error {
  constructor(readonly kind: 'bad-length' | 'too-large' | 'bad-json' | 'not-object', message: string) {
    super(message);
    this.name = 'FrameError';
  }
}
