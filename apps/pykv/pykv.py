#!/usr/bin/python3
"""pykv: a small key-value ABCI application in Python 3, written from abci/PROTOCOL.md.

It speaks the nng REQ/REP (SP v0) framing of PROTOCOL.md section 2 over plain sockets
(tcp:// or ipc://, no nng binding) and implements the key-value transactions of
apps/kvledger/TXFORMAT.md (section 1.1: `key=value`, `del:key`; same result codes, the
same /key and /height queries, and the same app-hash chain, so a KV-only chain hashes the
same in pykv and kvledger). Ledger transactions (LDG1...) are refused with code 8. The
genesis app_state is read by every rule of TXFORMAT.md section 3: its accounts are never
used, but the genesis hash G covers them.

State is kept in memory and written to HOME/state.json atomically (write, fsync, rename,
fsync the directory) at every Commit; Info reports the last committed height and hash.

It must never: change committed state outside Commit, answer a request twice or not at
all, use anything but the block in executing it, or exit on a malformed request.

Needs the generated module abci_pb2 on sys.path (meson builds it into the build dir with
`protoc --python_out`); run: PYTHONPATH=BUILD/abci pykv.py --listen ADDR --home DIR
"""

import argparse
import base64
import re
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

try:
    import abci_pb2 as pb
except ImportError:
    sys.stderr.write(
        "pykv: cannot import abci_pb2: generate it with "
        "`protoc --python_out=DIR proto/abci.proto` and put DIR on PYTHONPATH\n")
    sys.exit(1)

# --- limits ---------------------------------------------------------------------------
MAX_MESSAGE = 64 * 1024 * 1024  # bytes of one SP message (PROTOCOL.md section 8)
MAX_HEADER_WORDS = 255
MAX_CONNECTIONS = 16  # the engine opens 4; a few spare for tools
TX_MAX = 16384
KEY_MAX = 256
VALUE_MAX = 8192
CHAIN_ID_MAX = 50
GENESIS_BYTES_MAX = 32 << 20
GENESIS_ACCOUNTS_MAX = 100000
JSON_INT_MAX = 2 ** 53 - 1  # the largest balance written as a JSON number
TX_FRAMING = 11  # what a tx costs beyond its length against max_tx_bytes (PROTOCOL.md 4)

# --- SP framing ------------------------------------------------------------------------
SP_REQ0 = 0x30
SP_REP0 = 0x31
HEADER_REP = b"\x00SP\x00" + struct.pack(">H", SP_REP0) + b"\x00\x00"
HEADER_REQ = b"\x00SP\x00" + struct.pack(">H", SP_REQ0) + b"\x00\x00"

# --- result codes (TXFORMAT.md section 2) ------------------------------------------------
OK, MALFORMED, TOO_LARGE, UNKNOWN_TYPE = 0, 1, 2, 8
NOT_FOUND, BAD_QUERY = 20, 21

GENESIS_TAG = b"phalanx/kvledger/genesis/v1"
BLOCK_TAG = b"phalanx/kvledger/block/v1"


def log(msg, **kv):
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    ms = int(time.time() * 1000) % 1000
    parts = " ".join("%s=%s" % (k, json.dumps(v) if isinstance(v, str) and (" " in v or v == "") else v)
                     for k, v in kv.items())
    sys.stderr.write("%s.%03dZ INFO pykv %s%s\n" % (t, ms, msg, (" " + parts) if parts else ""))
    sys.stderr.flush()


def sha256(b):
    return hashlib.sha256(b).digest()


class TxError(Exception):
    def __init__(self, code, why):
        super().__init__(why)
        self.code = code
        self.why = why


def check_key(key):
    if len(key) == 0:
        raise TxError(MALFORMED, "the key is empty")
    if len(key) > KEY_MAX:
        raise TxError(TOO_LARGE, "the key is longer than 256 bytes")
    for c in key:
        if c < 0x21 or c > 0x7E or c == 0x3D:
            raise TxError(MALFORMED, "the key has a byte outside printable ASCII 0x21..0x7E")
    if key.startswith(b"LDG1"):
        raise TxError(MALFORMED, "a key may not start with LDG1")


class GenesisError(Exception):
    pass


class _Number:
    """A JSON number exactly as written (json.loads hands us its text)."""

    def __init__(self, text):
        self.text = text


def _object_no_repeats(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise GenesisError("app_state repeats the member %r in one object" % k)
        out[k] = v
    return out


def _no_constant(name):
    raise GenesisError("app_state has %s, which is not JSON" % name)


_B64_32 = re.compile(r"[A-Za-z0-9+/]{43}=")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_DIGITS = re.compile(r"[0-9]+")


def _balance(i, bal):
    if isinstance(bal, str):
        if _DECIMAL.fullmatch(bal) and int(bal) <= 2 ** 64 - 1:
            return int(bal)
        raise GenesisError("app_state.accounts[%d].balance %r is not a decimal number "
                           "0..18446744073709551615 (digits only: no sign, spaces or leading zeros)"
                           % (i, bal[:40]))
    if isinstance(bal, _Number):
        if not _DIGITS.fullmatch(bal.text):
            raise GenesisError("app_state.accounts[%d].balance %s: a JSON number balance is digits "
                               "only (no sign, fraction or exponent)" % (i, bal.text[:40]))
        if int(bal.text) > JSON_INT_MAX:
            raise GenesisError("app_state.accounts[%d].balance is the JSON number %s, above 2^53-1 "
                               "(9007199254740991): write it as the decimal string \"%s\""
                               % (i, bal.text, bal.text))
        return int(bal.text)
    raise GenesisError("app_state.accounts[%d].balance %s: it must be a decimal string"
                       % (i, "is missing" if bal is None else "has the wrong type"))


def parse_genesis(raw):
    """TXFORMAT.md section 3: the accounts as [(pub_key bytes, balance)] sorted by the raw
    key bytes. Raises GenesisError with a sentence for anything the rules refuse."""
    if len(raw) == 0:
        return []
    if len(raw) > GENESIS_BYTES_MAX:
        raise GenesisError("app_state is larger than %d bytes" % GENESIS_BYTES_MAX)
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text, object_pairs_hook=_object_no_repeats, parse_int=_Number,
                         parse_float=_Number, parse_constant=_no_constant)
    except GenesisError:
        raise
    except (ValueError, RecursionError) as e:
        raise GenesisError("app_state is not valid JSON: %s" % e)
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise GenesisError('app_state must be a JSON object {"accounts": [...]}')
    for k in doc:
        if k != "accounts":
            raise GenesisError('app_state has an unknown field %r (only "accounts")' % k[:40])
    accounts = doc.get("accounts")
    if accounts is None:
        return []
    if not isinstance(accounts, list):
        raise GenesisError("app_state.accounts must be an array")
    if len(accounts) > GENESIS_ACCOUNTS_MAX:
        raise GenesisError("app_state has %d accounts, more than %d"
                           % (len(accounts), GENESIS_ACCOUNTS_MAX))
    out = []
    for i, a in enumerate(accounts):
        if not isinstance(a, dict):
            raise GenesisError("app_state.accounts[%d] is not an object" % i)
        for k in a:
            if k not in ("pub_key", "balance"):
                raise GenesisError("app_state.accounts[%d] has an unknown field %r" % (i, k[:40]))
        pk = a.get("pub_key")
        key = None
        if isinstance(pk, str) and _B64_32.fullmatch(pk):
            key = base64.b64decode(pk, validate=True)
            if base64.b64encode(key).decode("ascii") != pk:
                key = None  # unused bits set: not the canonical spelling
        if key is None or len(key) != 32:
            raise GenesisError("app_state.accounts[%d].pub_key must be the base64 of a 32-byte "
                               "Ed25519 public key" % i)
        out.append((key, _balance(i, a.get("balance"))))
    out.sort(key=lambda kb: kb[0])
    for (k1, _), (k2, _) in zip(out, out[1:]):
        if k1 == k2:
            raise GenesisError("app_state lists the account %s twice"
                               % base64.b64encode(k1).decode("ascii"))
    return out


def genesis_hash(chain_id, accounts):
    """G of TXFORMAT.md section 5."""
    h = hashlib.sha256()
    h.update(GENESIS_TAG + b"\x00" + bytes([len(chain_id)]) + chain_id)
    h.update(struct.pack(">I", len(accounts)))
    for key, balance in accounts:
        h.update(key + struct.pack(">Q", balance))
    return h.digest()


def parse_tx(tx):
    """Returns ('set', key, value) or ('del', key, b''); raises TxError."""
    if len(tx) > TX_MAX:
        raise TxError(TOO_LARGE, "the transaction is longer than 16384 bytes")
    if len(tx) == 0:
        raise TxError(MALFORMED, "the transaction is empty")
    if tx.startswith(b"LDG1"):
        raise TxError(UNKNOWN_TYPE, "ledger transactions are not supported by pykv")
    eq = tx.find(b"=")
    if eq >= 0:
        key, value = tx[:eq], tx[eq + 1:]
        check_key(key)
        if len(value) > VALUE_MAX:
            raise TxError(TOO_LARGE, "the value is longer than 8192 bytes")
        return ("set", key, value)
    if tx.startswith(b"del:"):
        key = tx[4:]
        check_key(key)
        return ("del", key, b"")
    raise TxError(MALFORMED, "not a kvledger transaction: expected key=value, del:key or a LDG1 ledger tx")


class App:
    """The state machine. Every method is called with self.lock held."""

    def __init__(self, home):
        self.home = home
        self.lock = threading.Lock()
        self.chain_id = ""
        self.initial_height = 1
        self.height = 0          # last committed height
        self.app_hash = b""      # app hash after self.height (G at height 0 after InitChain)
        self.kv = {}             # committed state
        # pending (between FinalizeBlock and Commit)
        self.pending = None      # (height, kv, app_hash)
        self.load()

    # --- durability -------------------------------------------------------------------
    def path(self):
        return os.path.join(self.home, "state.json")

    def load(self):
        try:
            with open(self.path(), "rb") as f:
                doc = json.loads(f.read().decode())
        except FileNotFoundError:
            return
        self.chain_id = doc["chain_id"]
        self.initial_height = doc["initial_height"]
        self.height = doc["height"]
        self.app_hash = base64.b64decode(doc["app_hash"])
        self.kv = {base64.b64decode(k): base64.b64decode(v) for k, v in doc["kv"]}
        log("loaded state", height=self.height, app_hash=self.app_hash.hex(), keys=len(self.kv))

    def save(self):
        doc = {
            "chain_id": self.chain_id,
            "initial_height": self.initial_height,
            "height": self.height,
            "app_hash": base64.b64encode(self.app_hash).decode(),
            "kv": [[base64.b64encode(k).decode(), base64.b64encode(v).decode()]
                   for k, v in sorted(self.kv.items())],
        }
        tmp = self.path() + ".tmp"
        with open(tmp, "wb") as f:
            f.write(json.dumps(doc).encode())
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path())
        dfd = os.open(self.home, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    # --- methods ----------------------------------------------------------------------
    def info(self, req, resp):
        resp.data = "pykv"
        resp.version = "1.0.0"
        resp.app_version = 1
        resp.last_block_height = self.height
        resp.last_block_app_hash = self.app_hash

    def init_chain(self, req, resp):
        # PROTOCOL.md 5.4: only before the first Commit; again then starts over (an
        # uncommitted block is dropped). A refused InitChain changes nothing.
        if self.height != 0:
            raise RuntimeError("InitChain after height %d was committed: the chain is already "
                               "initialised" % self.height)
        cid = req.chain_id.encode()
        if not 1 <= len(cid) <= CHAIN_ID_MAX or any(c < 0x21 or c > 0x7E for c in cid):
            raise RuntimeError("the chain id must be 1..50 bytes of printable ASCII 0x21..0x7E")
        try:
            accounts = parse_genesis(req.app_state_bytes)
        except GenesisError as e:
            raise RuntimeError(str(e))
        self.chain_id = req.chain_id
        self.initial_height = req.initial_height if req.initial_height > 0 else 1
        self.kv = {}
        self.pending = None
        # pykv has no ledger, but G covers the genesis accounts (TXFORMAT.md 3 and 5)
        self.app_hash = genesis_hash(cid, accounts)
        resp.app_hash = self.app_hash
        log("init chain", chain_id=self.chain_id, initial_height=self.initial_height,
            app_hash=self.app_hash.hex())

    def check_tx(self, req, resp):
        try:
            parse_tx(req.tx)
            resp.code = OK
        except TxError as e:
            resp.code = e.code
            resp.log = e.why
        resp.gas_wanted = 1

    def check_tx_batch(self, req, resp):
        for tx in req.txs:
            one = pb.RequestCheckTx(tx=tx, type=req.type)
            self.check_tx(one, resp.results.add())

    def prepare_proposal(self, req, resp):
        # each tx costs its length plus its framing in the block; max_tx_bytes <= 0 leaves
        # room for none (PROTOCOL.md 4)
        total = 0
        for tx in req.txs:
            try:
                parse_tx(tx)
            except TxError:
                continue  # never propose a tx that cannot succeed
            if total + len(tx) + TX_FRAMING > req.max_tx_bytes:
                break
            total += len(tx) + TX_FRAMING
            resp.txs.append(tx)

    def process_proposal(self, req, resp):
        resp.status = pb.PROPOSAL_STATUS_ACCEPT

    def finalize_block(self, req, resp):
        want = self.initial_height if self.height == 0 else self.height + 1
        if req.height != want:
            raise RuntimeError("FinalizeBlock for height %d, expected %d" % (req.height, want))
        if self.height == 0 and not self.chain_id:
            raise RuntimeError("FinalizeBlock before InitChain")
        kv = dict(self.kv)
        h = hashlib.sha256()
        h.update(BLOCK_TAG + b"\x00" + self.app_hash + struct.pack(">QI", req.height, len(req.txs)))
        for tx in req.txs:
            r = resp.tx_results.add()
            # hashed into the header (PROTOCOL.md 6): data empty, gas 1/1 for every tx
            r.gas_wanted = 1
            r.gas_used = 1
            try:
                kind, key, value = parse_tx(tx)
            except TxError as e:
                r.code = e.code
                r.log = e.why
                h.update(struct.pack(">II", e.code, 0))
                continue
            if kind == "set":
                kv[key] = value
                w = b"\x01"
            else:
                kv.pop(key, None)
                w = b"\x02"
            w += struct.pack(">I", len(key)) + key + struct.pack(">I", len(value)) + value
            h.update(struct.pack(">II", 0, 1) + w)
            r.code = OK
            ev = r.events.add()
            ev.type = "kv"
            ev.attributes.add(key="key", value=key.decode("ascii"), index=True)
            ev.attributes.add(key="op", value="set" if kind == "set" else "delete", index=True)
        app_hash = h.digest()
        self.pending = (req.height, kv, app_hash)
        resp.app_hash = app_hash

    def commit(self, req, resp):
        if self.pending is None:
            raise RuntimeError("Commit without a FinalizeBlock")
        self.height, self.kv, self.app_hash = self.pending
        self.pending = None
        self.save()
        resp.retain_height = 0
        log("committed", height=self.height, app_hash=self.app_hash.hex(), keys=len(self.kv))

    def query(self, req, resp):
        resp.height = self.height
        resp.key = req.data  # every answer (TXFORMAT.md 4)
        if req.height not in (0, self.height):
            resp.code = BAD_QUERY
            resp.log = "only the latest height %d can be queried" % self.height
            return
        if req.path == "/key":
            if not 1 <= len(req.data) <= KEY_MAX:
                resp.code = BAD_QUERY
                resp.log = "/key needs a key of 1..%d bytes" % KEY_MAX
            elif req.data in self.kv:
                resp.value = self.kv[req.data]
            else:
                resp.code = NOT_FOUND
                resp.log = "no such key"
        elif req.path == "/height":
            resp.value = str(self.height).encode()
        else:
            resp.code = BAD_QUERY
            resp.log = "unknown query path %r: use /key or /height" % req.path

    def list_snapshots(self, req, resp):
        pass

    def offer_snapshot(self, req, resp):
        # no snapshots: ABORT stops state sync at once (REJECT would have the engine try
        # every other snapshot in vain; PROTOCOL.md 4)
        resp.result = pb.OFFER_SNAPSHOT_RESULT_ABORT

    def load_snapshot_chunk(self, req, resp):
        pass

    def apply_snapshot_chunk(self, req, resp):
        resp.result = pb.APPLY_SNAPSHOT_CHUNK_RESULT_ABORT


def handle(app, body):
    """One Request body -> one Response body (bytes). Never raises."""
    resp = pb.Response()
    try:
        req = pb.Request()
        req.ParseFromString(body)
        method = req.WhichOneof("value")
    except Exception as e:  # malformed protobuf
        resp.exception.error = "request does not decode as an ABCI Request: %s" % e
        return resp.SerializeToString()
    if method is None:
        resp.exception.error = "request has no method set"
        return resp.SerializeToString()
    try:
        if method == "echo":
            resp.echo.message = req.echo.message
        elif method == "flush":
            resp.flush.SetInParent()
        else:
            out = getattr(resp, method)
            out.SetInParent()
            with app.lock:
                getattr(app, method)(getattr(req, method), out)
    except Exception as e:
        resp = pb.Response()
        resp.exception.error = "%s failed: %s" % (method, e)
        log("exception", method=method, error=str(e))
    return resp.SerializeToString()


class Conn:
    """One engine connection: SP header exchange, then request/reply frames."""

    def __init__(self, sock, ipc):
        self.sock = sock
        self.ipc = ipc

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise EOFError()
            buf += chunk
        return bytes(buf)

    def handshake(self):
        self.sock.sendall(HEADER_REP)
        peer = self.recv_exact(8)
        if peer != HEADER_REQ:
            raise ValueError("bad SP header %s (want a REQ v0 peer)" % peer.hex())

    def recv_msg(self):
        if self.ipc:
            t = self.recv_exact(1)
            if t != b"\x01":
                raise ValueError("bad ipc message type %d" % t[0])
        (n,) = struct.unpack(">Q", self.recv_exact(8))
        if n > MAX_MESSAGE:
            raise ValueError("message of %d bytes exceeds %d" % (n, MAX_MESSAGE))
        return self.recv_exact(n)

    def send_msg(self, payload):
        head = (b"\x01" if self.ipc else b"") + struct.pack(">Q", len(payload))
        self.sock.sendall(head + payload)


def split_header(payload):
    """Returns (header bytes, body) or None if no request id is found."""
    off = 0
    for _ in range(MAX_HEADER_WORDS):
        if off + 4 > len(payload):
            return None
        word = struct.unpack(">I", payload[off:off + 4])[0]
        off += 4
        if word & 0x80000000:
            return payload[:off], payload[off:]
    return None


def serve_conn(app, sock, ipc, slots):
    c = Conn(sock, ipc)
    try:
        c.handshake()
        while True:
            payload = c.recv_msg()
            parts = split_header(payload)
            if parts is None:
                log("dropped a message without a request id", bytes=len(payload))
                continue
            header, body = parts
            c.send_msg(header + handle(app, body))
    except EOFError:
        pass
    except Exception as e:
        log("connection closed", reason=str(e))
    finally:
        try:
            sock.close()
        except OSError:
            pass
        slots.release()


def listen(addr):
    if addr.startswith("tcp://"):
        hostport = addr[len("tcp://"):]
        host, _, port = hostport.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        ipc = False
    elif addr.startswith("ipc://"):
        path = addr[len("ipc://"):]
        if os.path.exists(path):
            os.unlink(path)  # a stale socket file of an earlier run
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        ipc = True
    else:
        raise ValueError("address must be tcp://HOST:PORT or ipc:///path, not %r" % addr)
    s.listen(16)
    return s, ipc


def main():
    ap = argparse.ArgumentParser(description="pykv: a key-value ABCI app (see abci/PROTOCOL.md)")
    ap.add_argument("--listen", default="tcp://127.0.0.1:26658", help="tcp://HOST:PORT or ipc:///path")
    ap.add_argument("--home", required=True, help="directory for the committed state")
    args = ap.parse_args()
    os.makedirs(args.home, exist_ok=True)
    app = App(args.home)
    try:
        srv, ipc = listen(args.listen)
    except (OSError, ValueError) as e:
        sys.stderr.write("pykv: cannot listen on %s: %s\n" % (args.listen, e))
        return 1
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
        try:
            srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        srv.close()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log("listening", addr=args.listen, home=args.home)
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    while not stop.is_set():
        try:
            sock, _ = srv.accept()
        except OSError:
            break
        if not slots.acquire(blocking=False):
            log("refused a connection: too many open")
            sock.close()
            continue
        t = threading.Thread(target=serve_conn, args=(app, sock, ipc, slots), daemon=True)
        t.start()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
