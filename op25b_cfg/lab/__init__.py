"""Labs users and tests can run: protocol emulators (:mod:`op25b_cfg.lab.emulators`) and the network-namespace
lab with a real Linux BRAS (sshd + nftables) and real SMTP servers (:mod:`op25b_cfg.lab.netns`,
:mod:`op25b_cfg.lab.smtp`, :mod:`op25b_cfg.lab.target`; ``op25b lab up|down|status``).

Submodules are imported explicitly; this package imports nothing, so each lab stays independent.
"""
