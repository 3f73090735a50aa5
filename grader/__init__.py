"""convgrade: an autograded PyTorch course and a grader that does not trust student code."""

import sys

# nbformat imports jsonschema, which imports rfc3987_syntax when installed (pulled in by
# jupyter's format extras) and builds ~40 Lark grammars at import: about 1 s of every cold
# start. Only the "iri" string formats need it, and no schema the grader validates uses
# them; a None entry makes the import fail fast and jsonschema skips those two formats.
sys.modules.setdefault("rfc3987_syntax", None)
