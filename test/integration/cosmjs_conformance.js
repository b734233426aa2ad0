// cosmjs conformance: @cosmjs/tendermint-rpc (Comet38Client) against a live Phalanx node.
// Calls every method of the client, sends kvledger txs with the three broadcast kinds,
// follows NewBlock and Tx subscriptions over the websocket, and checks the answers:
// heights advance, a tx is found by hash and by search, a query returns the value written.
// Usage: node cosmjs_conformance.js RPC_PORT [METRICS_PORT]. Exit 0 on success, 1 with the
// first failed check on stderr. Run with NODE_PATH holding @cosmjs/tendermint-rpc.
"use strict";

const assert = require("assert");
const crypto = require("crypto");
const http = require("http");
const tm = require("@cosmjs/tendermint-rpc");

const port = Number(process.argv[2]);
const metricsPort = process.argv[3] ? Number(process.argv[3]) : 0;
const httpUrl = `http://127.0.0.1:${port}`;
const wsUrl = `ws://127.0.0.1:${port}`; // WebsocketClient appends /websocket
const enc = new TextEncoder();
const dec = new TextDecoder();
const toHex = (b) => Buffer.from(b).toString("hex").toUpperCase();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function step(name) {
  process.stderr.write(`cosmjs: ${name}\n`);
}

async function until(what, fn, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}`);
}

// Take the first n events of a stream (with a deadline).
function take(stream, n, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`only ${got.length} of ${n} events within ${timeoutMs} ms`));
    }, timeoutMs);
    const sub = stream.subscribe({
      next: (ev) => {
        got.push(ev);
        if (got.length === n) {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(got);
        }
      },
      error: (e) => {
        clearTimeout(timer);
        reject(e);
      },
      complete: () => {},
    });
  });
}

function getText(p, path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port: p, path }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      })
      .on("error", reject);
  });
}

async function main() {
  step("connectComet");
  const client = await tm.connectComet(httpUrl);
  assert(tm.isComet38Client(client), "status.node_info.version must select Comet38Client");

  step("status");
  const st = await client.status();
  const chainId = st.nodeInfo.network;
  assert(chainId.length > 0, "network (chain id) is empty");
  assert(st.syncInfo.latestBlockHeight >= 1, "no block yet");
  assert(st.syncInfo.latestBlockHash.length === 32, "latest block hash is not 32 bytes");
  assert(st.validatorInfo.votingPower > 0n, "node 0 is a validator with power");
  const h0 = st.syncInfo.latestBlockHeight;

  step("health, abciInfo, genesis, numUnconfirmedTxs");
  await client.health();
  const ai = await client.abciInfo();
  assert(ai.lastBlockHeight >= 1, "abci_info last_block_height");
  const gen = await client.genesis();
  assert.strictEqual(gen.chainId, chainId);
  assert.strictEqual(gen.validators.length, 4, "4 genesis validators");
  const nu = await client.numUnconfirmedTxs();
  assert(nu.total >= 0);

  step("block, blockResults, blockchain, commit, validators");
  const b1 = await client.block(1);
  assert.strictEqual(b1.block.header.height, 1);
  assert.strictEqual(b1.block.header.chainId, chainId);
  const bl = await client.block();
  assert(bl.block.header.height >= h0, "latest block");
  assert.strictEqual(toHex(bl.blockId.hash).length, 64);
  const br = await client.blockResults(1);
  assert.strictEqual(br.height, 1);
  const chain = await client.blockchain(1, Math.min(h0, 3));
  assert(chain.blockMetas.length >= 1, "blockchain metas");
  assert(chain.lastHeight >= h0);
  assert.strictEqual(chain.blockMetas[0].header.height, Math.min(h0, 3));
  const cm = await client.commit(1);
  assert.strictEqual(cm.header.height, 1);
  assert(cm.commit.signatures.length === 4, "commit of 4 validators");
  const vals = await client.validators({ height: 1, per_page: 2, page: 2 });
  assert.strictEqual(vals.total, 4);
  assert.strictEqual(vals.count, 2);
  const all = await client.validatorsAll(1);
  assert.strictEqual(all.validators.length, 4);

  step("blockSearch");
  const bs = await client.blockSearch({ query: "block.height >= 1 AND block.height <= 2" });
  assert.strictEqual(bs.totalCount, 2);
  assert.strictEqual(bs.blocks.length, 2);
  const bsa = await client.blockSearchAll({ query: "block.height <= 3" });
  assert.strictEqual(bsa.blocks.length, Math.min(3, bsa.totalCount));

  step("subscriptions over the websocket");
  const ws = await tm.Comet38Client.create(new tm.WebsocketClient(wsUrl, (e) => { throw e; }));
  const tag = crypto.randomBytes(6).toString("hex");
  const blocksP = take(ws.subscribeNewBlock(), 2);
  const headersP = take(ws.subscribeNewBlockHeader(), 1);
  const txEventP = take(ws.subscribeTx(`tx.height > 0`), 1);

  step("broadcastTxAsync, broadcastTxSync, broadcastTxCommit");
  const txA = enc.encode(`cosmjs-a-${tag}=async`);
  const txS = enc.encode(`cosmjs-s-${tag}=sync`);
  const txC = enc.encode(`cosmjs-c-${tag}=commit`);
  const ra = await client.broadcastTxAsync({ tx: txA });
  assert.strictEqual(toHex(ra.hash), toHex(crypto.createHash("sha256").update(txA).digest()));
  const rs = await client.broadcastTxSync({ tx: txS });
  assert.strictEqual(rs.code, 0, `sync CheckTx code ${rs.code} log ${rs.log}`);
  const rc = await client.broadcastTxCommit({ tx: txC });
  assert.strictEqual(rc.checkTx.code, 0, "commit: CheckTx");
  assert.strictEqual(rc.txResult.code, 0, `commit: tx result code ${rc.txResult.code}`);
  assert(rc.height > 0, "commit: height");
  const bad = await client.broadcastTxSync({ tx: enc.encode("no equals sign") });
  assert.notStrictEqual(bad.code, 0, "a malformed kvledger tx is rejected by CheckTx");

  step("events");
  const blocks = await blocksP;
  assert(blocks[1].header.height === blocks[0].header.height + 1, "NewBlock heights advance");
  const headers = await headersP;
  assert(headers[0].height >= 1);
  const txEvents = await txEventP;
  assert(txEvents[0].height > 0 && txEvents[0].tx.length > 0, "Tx event");
  ws.disconnect();

  step("tx by hash, txSearch");
  for (const tx of [txA, txS, txC]) {
    const hash = crypto.createHash("sha256").update(tx).digest();
    const found = await until("tx " + toHex(hash), async () => {
      try {
        return await client.tx({ hash });
      } catch (e) {
        return null;
      }
    });
    assert.strictEqual(toHex(found.hash), toHex(hash));
    assert.strictEqual(dec.decode(found.tx), dec.decode(tx));
    assert.strictEqual(found.result.code, 0);
    const sr = await client.txSearch({ query: `tx.hash='${toHex(hash)}'` });
    assert.strictEqual(sr.totalCount, 1, "tx_search by hash");
    assert.strictEqual(toHex(sr.txs[0].hash), toHex(hash));
    const byHeight = await client.txSearchAll({ query: `tx.height=${found.height}` });
    assert(byHeight.txs.some((t) => toHex(t.hash) === toHex(hash)), "tx_search by height");
  }
  const rcFound = await client.tx({ hash: crypto.createHash("sha256").update(txC).digest() });
  assert.strictEqual(rcFound.height, rc.height, "commit height = tx height");

  step("abciQuery returns the value written");
  const q = await until("query", async () => {
    const r = await client.abciQuery({ path: "/key", data: enc.encode(`cosmjs-c-${tag}`) });
    return r.code === 0 && r.value.length > 0 ? r : null;
  });
  assert.strictEqual(dec.decode(q.value), "commit");

  step("heights advance");
  const st2 = await until("a higher height", async () => {
    const s = await client.status();
    return s.syncInfo.latestBlockHeight > h0 ? s : null;
  });
  assert(st2.syncInfo.latestBlockHeight > h0);

  if (metricsPort) {
    step("/metrics");
    const m = await getText(metricsPort, "/metrics");
    assert.strictEqual(m.status, 200);
    const line = m.body.split("\n").find((l) => /^\w*consensus_height /.test(l));
    assert(line && Number(line.split(" ")[1]) >= 1, "consensus_height in /metrics");
  }
  client.disconnect();
  step("all checks passed");
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`cosmjs conformance FAILED: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  }
);
