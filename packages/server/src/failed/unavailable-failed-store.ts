// For a sink whose failed events cannot be read back by this server (yet): every call says so.
import { Errors } from '../errors.ts';
import type { FailedPage, FailedStore, FailedView, ReplaySummary } from './failed-store.ts';

export class UnavailableFailedStore implements FailedStore {
  readonly kind: string;

  constructor(sinkKind: string) {
    this.kind = sinkKind;
  }

  private refuse(): never {
    throw Errors.notAvailable(`reading failed events is not available with the ${this.kind} sink`);
  }

  async list(): Promise<FailedPage> { return this.refuse(); }
  async get(): Promise<FailedView | undefined> { return this.refuse(); }
  async replay(): Promise<ReplaySummary> { return this.refuse(); }
  async close(): Promise<void> {}
}
