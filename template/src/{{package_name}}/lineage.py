"""Which code version a training run came from, recorded as tags on the run.

Kept apart from training so that reading the tags back (for the model card) does not
import scikit-learn and the rest of the training stack.
"""

import shutil
import subprocess

# MLflow's standard tag for the code version; its UI links the run to the commit.
GIT_COMMIT_TAG = "mlflow.source.git.commit"
# "true" when the run was trained from a work tree with uncommitted changes.
GIT_DIRTY_TAG = "git_dirty"


def git_tags() -> dict[str, str]:
    """Return the commit of the git work tree training runs in, or nothing outside one."""
    git = shutil.which("git")
    if git is None:
        return {}
    try:
        # Fixed arguments: nothing from outside reaches the command line.
        commit = subprocess.run(  # noqa: S603
            [git, "rev-parse", "HEAD"], capture_output=True, check=True, text=True, timeout=10
        ).stdout.strip()
        changes = subprocess.run(  # noqa: S603
            [git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            check=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {GIT_COMMIT_TAG: commit, GIT_DIRTY_TAG: "true" if changes else "false"}
