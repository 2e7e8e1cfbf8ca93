"""The commands of one build: debootstrap, the post-build steps in a chroot, the tarball."""

from __future__ import annotations

import glob
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.local.image.cache import _remove_tree
from infra.local.image.errors import ImageError
from infra.local.image.mirror import MirrorConfig
from infra.local.image.progress import DebootstrapProgress, Progress
from infra.local.image.recipe import SSHD_DROP_IN, ImageRecipe

_CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "HOME": "/root",
    "DEBIAN_FRONTEND": "noninteractive",
}


class _Builder:
    """One build in one work dir; every child inherits the lock so that an orphaned
    debootstrap (the caller killed) still holds it, and the next build waits for it."""

    def __init__(self, lock_fd: int, progress: Progress) -> None:
        self.lock_fd = lock_fd
        self.progress = progress

    def run(self, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            check=False,
            env=dict(env) if env is not None else None,
            pass_fds=(self.lock_fd,),
        )
        if result.returncode != 0:
            raise ImageError(
                f"`{' '.join(args)}` failed with exit code {result.returncode}:\n"
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result.stdout

    def chroot(self, rootfs: Path, *args: str) -> str:
        return self.run(["chroot", str(rootfs), *args], env=_CHROOT_ENV)

    def debootstrap(self, recipe: ImageRecipe, mirror: MirrorConfig, rootfs: Path) -> None:
        args = [
            "debootstrap",
            f"--variant={recipe.variant}",
            f"--arch={recipe.architecture}",
            f"--components={','.join(recipe.components)}",
            f"--include={','.join(sorted(recipe.packages))}",
            recipe.suite,
            str(rootfs),
            mirror.uri,
        ]
        env = dict(os.environ)
        if mirror.proxy:
            env["http_proxy"] = mirror.proxy  # apt's Acquire::http::Proxy, for an http mirror
        condensed = DebootstrapProgress()
        with subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            pass_fds=(self.lock_fd,),
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                shown = condensed.feed(line)
                if shown:
                    self.progress(shown)
        if proc.returncode != 0:
            log = rootfs / "debootstrap" / "debootstrap.log"
            log_tail = log.read_text(errors="replace").splitlines()[-20:] if log.is_file() else []
            raise ImageError(
                f"debootstrap of {recipe.suite} from {mirror.uri} failed (exit {proc.returncode}); "
                "check that `apt-get update` works on this controller. Last output:\n"
                + "\n".join(condensed.tail + log_tail)
            )

    def post_build(self, recipe: ImageRecipe, rootfs: Path) -> None:
        self.progress("post-build: removing host keys, machine-id and controller files…")
        for pattern in recipe.scrubbed_paths:
            for match in glob.glob(str(rootfs / pattern)):
                _remove_tree(Path(match))
        machine_id = rootfs / "etc/machine-id"
        machine_id.write_text("")
        machine_id.chmod(0o444)
        dbus_id = rootfs / "var/lib/dbus/machine-id"
        if dbus_id.parent.is_dir():
            dbus_id.unlink(missing_ok=True)
            dbus_id.symlink_to("/etc/machine-id")

        self.progress("post-build: enabling and masking units…")
        self.chroot(rootfs, "systemctl", "enable", *recipe.enabled_units)
        self.chroot(rootfs, "systemctl", "mask", *recipe.masked_units)

        self.progress(f"post-build: creating the admin user {recipe.admin_user}…")
        self._admin_user(recipe, rootfs)
        self._sshd(recipe, rootfs)

    def _admin_user(self, recipe: ImageRecipe, rootfs: Path) -> None:
        user = recipe.admin_user
        self.chroot(
            rootfs,
            "useradd",
            f"--uid={recipe.admin_uid}",
            "--user-group",
            f"--groups={','.join(recipe.admin_groups)}",
            f"--home-dir=/home/{user}",
            "--create-home",
            "--key=HOME_MODE=0700",  # least privilege (MLPS 8.1.4.2); Debian's default is 0755
            "--shell=/bin/bash",
            "--password=!",  # locked: ssh keys only, sudo without a password
            user,
        )
        ssh_dir = rootfs / "home" / user / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        os.chown(ssh_dir, recipe.admin_uid, recipe.admin_uid)  # authorized_keys: per host
        sudoers = rootfs / "etc/sudoers.d" / user
        sudoers.write_text(f"{user} ALL=(ALL:ALL) NOPASSWD: ALL\n")
        sudoers.chmod(0o440)
        self.chroot(rootfs, "visudo", "-cf", f"/etc/sudoers.d/{user}")

    def _sshd(self, recipe: ImageRecipe, rootfs: Path) -> None:
        drop_in = rootfs / SSHD_DROP_IN
        drop_in.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{key} {value}" for key, value in recipe.sshd_settings]
        drop_in.write_text(
            "# regionstack: keys only, no root login (MLPS 8.1.4.1, 8.1.4.2)\n"
            + "\n".join(lines)
            + "\n"
        )
        drop_in.chmod(0o644)
        # `sshd -T` prints the effective configuration: proves the drop-in wins over
        # sshd_config (first value wins). It needs a host key and the privsep dir, so both
        # exist only for the check.
        key = "/tmp/regionstack-sshd-check"
        privsep = rootfs / "run/sshd"
        made_privsep = not privsep.exists()
        privsep.mkdir(mode=0o755, exist_ok=True)
        try:
            self.chroot(rootfs, "ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", key)
            effective = self.chroot(rootfs, "/usr/sbin/sshd", "-T", "-h", key).splitlines()
        finally:
            for path in (rootfs / key.lstrip("/"), rootfs / f"{key.lstrip('/')}.pub"):
                path.unlink(missing_ok=True)
            if made_privsep:
                privsep.rmdir()
        for key_word, value in recipe.sshd_settings:
            if f"{key_word.lower()} {value}" not in effective:
                raise ImageError(f"sshd does not apply `{key_word} {value}` from {SSHD_DROP_IN}")

    def packages(self, rootfs: Path) -> dict[str, str]:
        out = self.chroot(rootfs, "dpkg-query", "--show", "--showformat=${Package}\t${Version}\n")
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def tarball(self, rootfs: Path, tarball: Path) -> None:
        self.run(
            [
                "tar",
                "--create",
                f"--file={tarball}",
                f"--directory={rootfs}",
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "--acls",
                "--one-file-system",
                "--sort=name",
                ".",
            ]
        )
