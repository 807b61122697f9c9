"""Which code version a training run came from, recorded as tags on the run.

Kept apart from training so that reading the tags back (for the model card) does not
import scikit-learn and the rest of the training stack.
"""

import shutil
import subprocess

# MLflow's standard tag for the code version; its UI links the run to the commit.
GIT_COMMIT_TAG = "mlflow.source.git.commit"
# "true" when the run was trained from a work tree whose tracked files differ from the
# commit, or that has no commit yet; "false" when the commit is the whole code version.
GIT_DIRTY_TAG = "git_dirty"


def _git(git: str, *args: str) -> subprocess.CompletedProcess[str]:
    # Fixed arguments: nothing from outside reaches the command line.
    return subprocess.run(  # noqa: S603
        [git, *args], capture_output=True, check=False, text=True, timeout=10
    )


def git_tags() -> dict[str, str]:
    """Return the code version of the git work tree training runs in.

    Outside a work tree, or without git, nothing is known and nothing is recorded. In a
    work tree with no commit yet, the run is recorded as dirty and without a commit.
    """
    git = shutil.which("git")
    if git is None:
        return {}
    try:
        if _git(git, "rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
            return {}
        head = _git(git, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if head.returncode != 0:
            return {GIT_DIRTY_TAG: "true"}
        changes = _git(git, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return {}
    if changes.returncode != 0:
        return {}
    dirty = "true" if changes.stdout.strip() else "false"
    return {GIT_COMMIT_TAG: head.stdout.strip(), GIT_DIRTY_TAG: dirty}
