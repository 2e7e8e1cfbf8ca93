"""A local host's mechanism: an overlayfs clone of the image, booted by systemd-nspawn on
the region bridge. The Machine resource (modules/local/machine.py) and the bake's build
hosts (infra/local/layers/machines.py) both run their machines with it.

Per machine, under `<state_root>/<stack>/machines/<name>/` (created with its ownership
marker in one step, infra/local/ownership.py):

    upper/ work/ merged/   the overlay: the image is the read-only lowerdir, upper/ holds
                           everything this host wrote, merged/ is what nspawn boots
    machine.json           the inputs; tells the supervisor what to run
    console.log            the guest's console and the supervisor's log
    *.pid                  supervisor, nspawn and the guest's PID 1 (infra/local/supervisor.py)

Create writes the host's identity into upper/ (hostname, hosts, a fresh machine-id and SSH
host keys, its static address on `host0`, the resolver, the admin's authorized key),
mounts the overlay, starts the supervisor and returns once sshd answers on the host's
address with the host key just generated. Any failure undoes all of it: Pulumi records no
state for a failed create, so nothing would ever delete the remains.

The modules: `errors`, `inputs` (the inputs and their checks), `state` (the state dir and
its owner), `upper` (the files that make a copy of the image this host), `overlay` (the
mounts), `power` (on, off, running), `console` (the logs an error shows), `teardown`
(removing all of it) and `lifecycle` (create and update, as the provider calls them).
"""
