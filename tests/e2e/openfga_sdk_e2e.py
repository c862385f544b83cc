"""The official OpenFGA JavaScript SDK against `pmesh serve` (HTTPS, tokens):
starts the server, runs openfga_sdk_e2e.js with node, and fails with it.
The npm packages are those tests/package-lock.json pins (scripts/setup
installs them)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pmesh_server import Server  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
if not os.path.isdir(os.path.join(here, "..", "node_modules", "@openfga", "sdk")):
    sys.exit("tests/node_modules has no @openfga/sdk: run scripts/setup (npm ci --prefix tests)")

with Server(sys.argv[1]) as s:
    env = dict(os.environ)
    env.update({
        "FGA_API_URL": "https://127.0.0.1:%d" % s.port,
        "NODE_EXTRA_CA_CERTS": os.path.join(s.data, "serving.pem"),
        "ALICE_TOKEN": s.tokens["alice"],
        "BOB_TOKEN": s.tokens["bob"],
    })
    r = subprocess.run(["node", os.path.join(here, "openfga_sdk_e2e.js")], env=env, timeout=240)
    if r.returncode != 0:
        print(open(s.log_path).read()[-4000:], file=sys.stderr)
    sys.exit(r.returncode)
