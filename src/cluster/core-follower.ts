// A standby core's replication (issue 12): it applies the journal stream's commands to its own
// core as the primary appends them, so a takeover starts from a core that is already current and
// only the last few records are read again. The stream is the journal (jetstream-journal.ts: one
// message per command, stream sequence = command sequence), so following it is exactly recovery
// done continuously; the core is deterministic, so the standby's state is the primary's.
//
// The follower never writes. It stops on the first record it cannot apply in order (a gap, a
// record stamped with another sequence, a payload that does not decode): the standby must then
// be rebuilt from a snapshot, never guess.

import { type Consumer, DeliverPolicy, type JetStreamClient, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Command } from "../core/commands.ts";
import type { CoreEvent } from "../core/events.ts";
import { CommandDecoder } from "../journal/command-codec.ts";
import type { SequencedCore } from "../runtime/sequencer.ts";

/** Messages the consumer buffers ahead of the core (JetStream's pull batch). */
const MAX_BUFFERED_MESSAGES = 1_000;

export interface CoreFollowerOptions {
  connection: NatsConnection;
  streamName: string;
  core: SequencedCore;
  /** Called with each applied command's events (a standby's market data may follow them). */
  onApplied?: (events: readonly CoreEvent[], command: Command) => void;
  /** The follower stopped on a record it could not apply. */
  onFailure?: (error: Error) => void;
}

export class CoreFollower {
  private readonly js: JetStreamClient;
  private readonly decoder = new CommandDecoder();
  private stopped = false;
  private running: Promise<void> | null = null;
  private messages: { stop(): void } | null = null;
  private failure: Error | null = null;

  constructor(private readonly options: CoreFollowerOptions) {
    this.js = jetstream(options.connection);
  }

  /** The last command applied (the core's sequence). */
  get lastAppliedSequence(): number {
    return this.options.core.lastSequence;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Starts following from the core's sequence + 1; returns at once. */
  async start(): Promise<void> {
    const consumer: Consumer = await this.js.consumers.get(this.options.streamName, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.options.core.lastSequence + 1,
    });
    const messages = await consumer.consume({ max_messages: MAX_BUFFERED_MESSAGES });
    this.messages = messages;
    this.running = (async () => {
      for await (const message of messages) {
        if (this.stopped) break;
        try {
          this.apply(message.seq, message.data);
        } catch (error) {
          this.failure = error instanceof Error ? error : new Error(String(error));
          this.options.onFailure?.(this.failure);
          break;
        }
      }
    })();
  }

  /** Stops following; resolves once no record is being applied. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await this.running;
  }

  private apply(streamSequence: number, payload: Uint8Array): void {
    const core = this.options.core;
    // Redelivery after a reconnect may repeat what was applied: skip it.
    if (streamSequence <= core.lastSequence) return;
    if (streamSequence !== core.lastSequence + 1)
      throw new Error(`journal stream gap: record ${streamSequence} after ${core.lastSequence}`);
    const command = this.decoder.decode(payload, 0, payload.length);
    if (command.sequence !== streamSequence)
      throw new Error(`journal record ${streamSequence} holds a command stamped ${command.sequence}`);
    const events: CoreEvent[] = [];
    core.applyBatch([command], events);
    this.options.onApplied?.(events, command);
  }
}
