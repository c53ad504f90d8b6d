"""Drives neomutt in batch on a pseudo-terminal: tags the messages a pattern
matches, saves them to an mbox file, quits.

usage: neomutt_batch.py MUTTRC OUT.mbox PATTERN
"""
import os, pty, sys, time, select
rc, out, pattern = sys.argv[1], sys.argv[2], sys.argv[3]
keys = f'push "<tag-pattern>{pattern}<enter><tag-prefix><save-message>{out}<enter><quit>"'
pid, fd = pty.fork()
if pid == 0:
    os.environ['TERM'] = 'xterm'
    os.execvp('neomutt', ['neomutt', '-n', '-F', rc, '-e', keys])
buf = b''
deadline = time.time() + 60
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        buf += data
    else:
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
try:
    os.waitpid(pid, 0)
except ChildProcessError:
    pass
sys.stdout.write(buf.decode('utf-8', 'replace')[-600:])
