"""The docker backend: restate-server (``restate.RestateContainer``) and agents shipped as
images (``agent.agent_container``) run as containers through testcontainers, on the host's
network and loopback ports, so the rest of the harness sees the same URLs as for processes.

``engine`` reaches the Docker engine (one clear line when there is none), ``images`` builds
the restate-server image from the pinned binary with no registry, and ``container`` is the
``Process`` a fault signals: kill, terminate, pause, resume, start and restart map to
``docker kill``, ``stop``, ``pause``, ``unpause`` and ``start`` on the same container, so
its data survives a crash. Every container carries its owner's ``Cleanup`` label, so
``close()`` and the reaper remove it even when the runner is SIGKILLed.

Nothing here is imported unless the docker backend or an image agent is asked for.
"""
