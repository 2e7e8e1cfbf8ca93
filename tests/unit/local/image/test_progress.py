"""Debootstrap's hundreds of lines, condensed to one per phase."""

from __future__ import annotations

from infra.local.image.progress import DebootstrapProgress

DEBOOTSTRAP_OUTPUT = """\
I: Retrieving InRelease
I: Checking Release signature
I: Valid Release signature (key id 4D64FEC119C2029067D6E791F8D2585B8783D481)
I: Retrieving Packages
I: Validating Packages
I: Resolving dependencies of required packages...
I: Resolving dependencies of base packages...
I: Checking component main on http://deb.example.org/debian...
I: Retrieving adduser 3.134
I: Validating adduser 3.134
I: Retrieving apt 2.6.1
I: Validating apt 2.6.1
I: Chosen extractor for .deb packages: dpkg-deb
I: Extracting adduser...
I: Extracting apt...
I: Installing core packages...
I: Unpacking required packages...
I: Unpacking adduser...
I: Configuring required packages...
I: Configuring adduser...
W: Failure trying to run: chroot something
I: Unpacking the base system...
I: Configuring the base system...
dpkg output that is not debootstrap's
I: Base system installed successfully.
"""


def test_debootstrap_progress_is_one_line_per_phase() -> None:
    condensed = DebootstrapProgress()
    shown = [line for line in map(condensed.feed, DEBOOTSTRAP_OUTPUT.splitlines()) if line]
    assert shown == [
        "debootstrap: fetching the package index…",
        "debootstrap: resolving dependencies…",
        "debootstrap: retrieving packages…",
        "debootstrap: extracting packages…",
        "debootstrap: installing core packages…",
        "debootstrap: unpacking required packages…",
        "debootstrap: configuring required packages…",
        "debootstrap warning: Failure trying to run: chroot something",
        "debootstrap: unpacking the other packages…",
        "debootstrap: configuring the other packages…",
        "debootstrap: base system installed (2 packages)",
    ]
