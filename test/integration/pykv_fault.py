#!/usr/bin/python3
"""pykv_fault: apps/pykv with one deliberate fault, for the test that shows `phalanx
abci-test` catches an app that differs from abci/PROTOCOL.md or apps/kvledger/TXFORMAT.md.
Each fault is a mistake an app written from the spec could make (several were pykv's own
before issue 12). Test-only: never run it as a real app.

usage: pykv_fault.py PYKV_PY FAULT --listen ADDR --home DIR   (abci_pb2 on PYTHONPATH)
FAULT: gas | order | height | genesis | null | snapshot | prepare
"""

import importlib.util
import sys


def load(path):
    spec = importlib.util.spec_from_file_location("pykv", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def inject(pykv, fault):
    App = pykv.App
    if fault == "gas":
        # failed txs with gas 0/0 (hashed into the header's last_results_hash)
        orig = App.finalize_block

        def finalize_block(self, req, resp):
            orig(self, req, resp)
            for r in resp.tx_results:
                if r.code != 0:
                    r.gas_wanted = 0
                    r.gas_used = 0
        App.finalize_block = finalize_block
    elif fault == "order":
        # the value's length checked before the key's bytes
        orig = pykv.parse_tx

        def parse_tx(tx):
            eq = tx.find(b"=")
            if (0 <= eq and len(tx) <= pykv.TX_MAX and not tx.startswith(b"LDG1")
                    and len(tx) - eq - 1 > pykv.VALUE_MAX):
                raise pykv.TxError(pykv.TOO_LARGE, "the value is longer than 8192 bytes")
            return orig(tx)
        pykv.parse_tx = parse_tx
    elif fault == "height":
        # FinalizeBlock executed at whatever height the engine names
        orig = App.finalize_block

        def finalize_block(self, req, resp):
            saved = (self.height, self.initial_height)
            if self.height == 0:
                self.initial_height = req.height
            else:
                self.height = req.height - 1
            try:
                orig(self, req, resp)
            finally:
                self.height, self.initial_height = saved
        App.finalize_block = finalize_block
    elif fault in ("genesis", "null"):
        orig = App.init_chain

        def init_chain(self, req, resp):
            if fault == "null" and req.app_state_bytes.strip() == b"null":
                raise RuntimeError("app_state must be a JSON object")
            if fault == "genesis":
                # the accounts ignored: G of no accounts, any app_state accepted
                req2 = pykv.pb.RequestInitChain()
                req2.CopyFrom(req)
                req2.app_state_bytes = b""
                req = req2
            orig(self, req, resp)
        App.init_chain = init_chain
    elif fault == "snapshot":
        def offer_snapshot(self, req, resp):
            resp.result = pykv.pb.OFFER_SNAPSHOT_RESULT_REJECT
        App.offer_snapshot = offer_snapshot
    elif fault == "prepare":
        # bare lengths against max_tx_bytes, without the framing
        def prepare_proposal(self, req, resp):
            total = 0
            for tx in req.txs:
                if total + len(tx) > req.max_tx_bytes:
                    break
                total += len(tx)
                resp.txs.append(tx)
        App.prepare_proposal = prepare_proposal
    else:
        sys.stderr.write("pykv_fault: unknown fault %r\n" % fault)
        sys.exit(2)


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    pykv = load(sys.argv[1])
    inject(pykv, sys.argv[2])
    sys.argv = [sys.argv[1]] + sys.argv[3:]
    return pykv.main()


if __name__ == "__main__":
    sys.exit(main())
