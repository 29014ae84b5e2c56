"""Written by Kiln: puts this bundle's app/ and packages/ on sys.path for every start of its interpreter."""
import os
import site
import sys

_bundle = os.path.dirname(sys.prefix)  # sys.prefix is <bundle>/runtime
_app = os.path.join(_bundle, "app")
if os.path.isdir(_app) and _app not in sys.path:
    sys.path.append(_app)
site.addsitedir(os.path.join(_bundle, "packages"))  # runs the dependencies' own .pth files too
# A bundled Tcl/Tk reads its scripts from the bundle, not from a system folder of another Tcl release.
_lib = os.path.join(sys.prefix, "lib")
for _var, _prefix, _marker in (("TCL_LIBRARY", "tcl", "init.tcl"), ("TK_LIBRARY", "tk", "tk.tcl")):
    if _var not in os.environ and os.path.isdir(_lib):
        for _entry in sorted(os.listdir(_lib)):
            if _entry.startswith(_prefix + "8.") and os.path.isfile(os.path.join(_lib, _entry, _marker)):
                os.environ[_var] = os.path.join(_lib, _entry)
