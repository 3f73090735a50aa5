"""convgrade: an autograded PyTorch course and a grader that does not trust student code.

One folder per layer, imports pointing down (docs/architecture.md): cli -> doors ->
operations -> engine -> course -> store -> wire; untrusted/ (the sandbox's code) beside the
engine, importing only the wire.
"""

import sys

# nbformat imports jsonschema, which imports rfc3987_syntax when installed (pulled in by
# jupyter's format extras) and builds ~40 Lark grammars at import: about 1 s of every cold
# start. Only the "iri" string formats need it, and no schema the grader validates uses
# them; a None entry makes the import fail fast and jsonschema skips those two formats.
sys.modules.setdefault("rfc3987_syntax", None)
