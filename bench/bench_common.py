"""Shared by the coreset benchmark drivers: where a result came from."""
import datetime
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def provenance(tool):
    """Read-only: HEAD, uncommitted changes, and the tool binary's build time."""
    out = {}
    try:
        git = lambda *args: subprocess.run(["git", "-C", REPO, *args], capture_output=True,
                                           text=True).stdout.strip()
        out["commit"] = git("rev-parse", "HEAD")
        out["git_status"] = git("status", "--porcelain").splitlines()
    except OSError:
        pass
    try:
        mtime = os.path.getmtime(tool)
        out["tool_mtime"] = datetime.datetime.utcfromtimestamp(mtime).isoformat()
        # The library inside the (statically linked) tool: the last commit before it was built,
        # valid when git_status shows no change under src/ or include/ at build time.
        out["commit_at_tool_build"] = subprocess.run(
            ["git", "-C", REPO, "log", "-1", "--format=%H", f"--before=@{int(mtime)}"],
            capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return out
