// What the Binance WebSocket upgrade routing (market streams, src/gateway/binance/ws/) hands to
// the user data side (src/gateway/binance/user-data/): sockets opened at /ws/<listenKey> and at
// the WebSocket API /ws-api/v3. The routing has already applied the connection caps (per address,
// per gateway) and the payload limit; the user data side owns the socket from here (its frames,
// its pings' answers, its close).

import type { WebSocket } from "ws";

export interface BinanceUserDataSockets {
  /** Whether `candidate` is a live listen key (then /ws/<candidate> is a user data stream). */
  isListenKey(candidate: string): boolean;
  /**
   * Takes over a socket upgraded at /ws/<listenKey>, or at /stream?streams=<listenKey>
   * (`combined`: each event wrapped as {"stream": listenKey, "data": event}, as on Binance).
   */
  openListenKeyStream(socket: WebSocket, listenKey: string, clientAddress: string, combined?: boolean): void;
  /** Takes over a socket upgraded at /ws-api/v3. */
  openWsApi(socket: WebSocket, clientAddress: string): void;
  /** Ends every user data socket (server shutdown); resolves once they are closed. */
  close(): Promise<void>;
}
