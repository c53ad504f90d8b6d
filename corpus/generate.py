#!/usr/bin/env python3
"""Deterministic generator of realistic mailing-list mail for gleaner's test corpus.

Standard library only (Python 3.11+). The same arguments always produce the
same output bytes.  Examples:

    python3 corpus/generate.py --messages 2000 --format maildir \
        --list-format announce=mbox --out corpus/sample
    python3 corpus/generate.py --messages 100000 --format mbox --out /tmp/c

Messages are produced in global date order from a heap of pending thread
messages, so memory stays bounded by the number of threads that are "open"
at a time, not by the corpus size.  See corpus/README.md.
"""

import argparse
import base64
import binascii
import bisect
import calendar
import heapq
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib

DOMAIN = "lists.example.org"
T_START = 1230768000  # 2009-01-01 00:00:00 UTC
T_END = 1767139200    # 2025-12-31 00:00:00 UTC
PROJECT = "Kestrel"   # the fictional software project the lists are about
BROKEN_RATE = 0.01
BROKEN_KINDS = [
    "missing-message-id", "duplicate-message-id", "unparseable-date", "no-date",
    "undeclared-8bit", "truncated-mime", "nul-bytes", "long-header-line",
]

# --------------------------------------------------------------------------
# lists
# --------------------------------------------------------------------------
# name, description, weight, subject tag, language weights
LISTS = [
    ("dev", "Kestrel development discussion", 30, "[dev]",
     {"en": 88, "de": 4, "fr": 3, "es": 2, "ru": 2, "ja": 0.6, "zh": 0.4}),
    ("users", "Kestrel users: questions and help", 33, "[users]",
     {"en": 80, "de": 6, "fr": 4, "es": 4, "ru": 3, "ja": 1.5, "zh": 1.5}),
    ("announce", "Kestrel release announcements", 5, "",
     {"en": 97, "de": 1, "fr": 1, "es": 1}),
    ("ops", "Kestrel infrastructure and operations", 20, "[ops]",
     {"en": 85, "de": 7, "ru": 4, "fr": 2, "es": 2}),
    ("i18n", "Kestrel translation and internationalisation", 12, "[i18n]",
     {"en": 35, "de": 12, "fr": 10, "es": 10, "ru": 11, "ja": 12, "zh": 10}),
]
LIST_NAMES = [l[0] for l in LISTS]

# --------------------------------------------------------------------------
# vocabulary
# --------------------------------------------------------------------------
COMMON_NOUNS = """
server file message list index thread user archive mailbox folder query result
search database table column row record config setting option value key path
directory disk partition volume backup restore snapshot job task queue worker
process service daemon socket port connection timeout error warning log entry
line header body subject sender recipient attachment encoding charset locale
language translation string format date time zone version release patch commit
branch build test suite benchmark crash bug issue ticket report fix workaround
change update upgrade migration schema replica master primary node cluster
network host address router firewall certificate key chain domain record zone
resolver cache memory limit quota permission owner group account password token
session cookie request response page template theme layout link button window
screen terminal shell script command flag argument parameter variable function
method module package library dependency compiler toolchain platform kernel
driver filesystem mount inode block sector controller array mirror parity
sensor alert monitor graph metric dashboard threshold latency throughput load
spike outage incident postmortem runbook procedure step document manual wiki
page chapter section example sample tutorial question answer reply mail relay
gateway proxy balancer frontend backend client library binding wrapper parser
tokenizer stemmer analyzer ranking score weight field document posting segment
merge commit lock mutex deadlock race signal handler callback hook plugin
extension feature request proposal roadmap milestone deadline meeting agenda
vote decision consensus maintainer contributor reviewer committer mentor
newcomer community conference talk slide video recording stream channel room
office laptop desktop phone tablet browser editor plugin keyboard mouse monitor
printer scanner camera battery charger cable adapter switch rack datacenter
provider contract invoice budget license copyright trademark policy guideline
""".split()

COMMON_ADJ = """
new old large small slow fast broken stable unstable current previous next last
first final default custom empty full partial complete missing duplicate invalid
valid strange weird obvious simple complex internal external remote local public
private secure insecure expired outdated recent minor major critical serious
harmless temporary permanent manual automatic optional mandatory experimental
deprecated legacy modern huge tiny noisy quiet busy idle healthy degraded
""".split()

COMMON_VERBS = """
index search parse import export rebuild restart reload upgrade downgrade install
remove configure enable disable check verify compare merge split rotate compress
decompress encode decode convert migrate replicate backup restore mount unmount
format resize monitor alert debug trace profile optimize cache flush sync lock
unlock release review apply revert bisect reproduce document translate
""".split()

ROOTS = """
sync cache index shard queue mail thread post list page node block chunk frame
stream buffer token stem word term field doc store map scan sort merge split
pack link path route gate port mount lock flag hash key sign cert zone host
cron log stat probe watch sense push pull fetch load save dump trace heap stack
pool slot lane tier ring grid mesh core shell wrap bind hook""".split()
PREFIXES = ["", "", "", "re", "un", "pre", "over", "sub", "auto", "multi", "micro",
            "inter", "post", "de", "co", "mis", "hyper", "meta", "para", "proto"]
SUFFIXES = ["", "er", "ing", "ed", "able", "less", "ness", "ment", "ify", "ish",
            "ward", "let", "ling", "ster", "ity", "ion", "ism", "ist", "ure", "age"]


def build_vocab(rng):
    words = []
    seen = set()

    def add(w):
        if w not in seen:
            seen.add(w)
            words.append(w)
    for w in COMMON_NOUNS:
        add(w)
    combos = []
    for p in PREFIXES:
        for r in ROOTS:
            for s in SUFFIXES:
                if p or s:
                    combos.append(p + r + s)
    rng.shuffle(combos)
    for w in combos[:3600]:
        add(w)
    idents = []
    for _ in range(1200):
        a, b = rng.choice(ROOTS), rng.choice(COMMON_NOUNS)
        idents.append(rng.choice(["%s_%s", "%s%s", "%s-%s"]) % (a, b))
    for w in idents:
        add(w)
    head = words[:len(COMMON_NOUNS)]
    tail = words[len(COMMON_NOUNS):]
    rng.shuffle(head)
    rng.shuffle(tail)
    words = head + tail
    # Zipf weights 1/(r+2.7)^1.07
    cum = []
    acc = 0.0
    for r in range(len(words)):
        acc += 1.0 / ((r + 2.7) ** 1.07)
        cum.append(acc)
    return words, cum


# --------------------------------------------------------------------------
# people
# --------------------------------------------------------------------------
NAMES = {
    "en": ("James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth "
           "David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen "
           "Chris Nancy Daniel Lisa Matthew Betty Anthony Margaret Mark Sandra Priya "
           "Arjun Ahmed Fatima Kwame Grace Oliver Emma Liam Olivia Noah Ava Ethan "
           "Mia Lucas Chloe Ryan Zoe Nathan Hannah Owen Leah Ian Rachel Gavin Tess",
           "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor "
           "Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
           "Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter "
           "Mitchell Patel Nguyen O'Brien Murphy Kelly Reed Cooper Ward Hughes "
           "Raman Okafor Mensah Fraser Campbell Stewart Morrison Doyle Byrne Quinn"),
    "de": ("Jürgen Klaus Stefan Andreas Thomas Michael Sabine Petra Monika Ursula "
           "Jörg Katrin Björn Günter Uwe Frank Anja Julia Lukas Lena Dieter Heike "
           "Matthias Torsten Kerstin Sören",
           "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz "
           "Hoffmann Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz "
           "Zimmermann Krüger Hartmann Lange Weiß Brandt Groß Vogel Jäger"),
    "fr": ("Jean Pierre Michel André Philippe Nathalie Isabelle Sylvie Céline "
           "François Hélène Stéphane Amélie Loïc Gaëlle Julien Camille Benoît",
           "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau "
           "Simon Laurent Lefèvre Garnier Rousseau Bérard Chevalier Fontaine Mercier"),
    "es": ("José María Juan Carmen Antonio Lucía Javier Sofía Alejandro Begoña "
           "Íñigo Nuria Pablo Elena Raúl Marta",
           "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez "
           "Jiménez Ruiz Hernández Díaz Muñoz Peña Ibáñez Castro Ortega"),
    "sv": ("Lars Karin Björn Anders Ingrid Magnus Sven Astrid Erik Sigrid",
           "Andersson Nilsson Lindqvist Johansson Karlsson Berg Lund Holm Ek Dahl"),
}
RU_FIRST = [("Алексей", "aleksey"), ("Дмитрий", "dmitry"), ("Сергей", "sergey"),
            ("Андрей", "andrey"), ("Ольга", "olga"), ("Наталья", "natalya"),
            ("Елена", "elena"), ("Иван", "ivan"), ("Михаил", "mikhail"),
            ("Татьяна", "tatyana"), ("Юрий", "yuri"), ("Светлана", "svetlana")]
RU_LAST = [("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"),
           ("Попов", "popov"), ("Васильев", "vasiliev"), ("Петров", "petrov"),
           ("Соколов", "sokolov"), ("Михайлов", "mikhailov"), ("Новиков", "novikov"),
           ("Волков", "volkov"), ("Лебедев", "lebedev"), ("Морозов", "morozov")]
JA_LAST = [("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
           ("渡辺", "watanabe"), ("伊藤", "ito"), ("山本", "yamamoto"), ("中村", "nakamura"),
           ("小林", "kobayashi"), ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada")]
JA_FIRST = [("太郎", "taro"), ("健", "ken"), ("直樹", "naoki"), ("美咲", "misaki"),
            ("陽子", "yoko"), ("翔太", "shota"), ("由美", "yumi"), ("大輔", "daisuke"),
            ("浩", "hiroshi"), ("恵", "megumi")]
ZH_LAST = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
           ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("周", "zhou"), ("吴", "wu")]
ZH_FIRST = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
            ("磊", "lei"), ("洋", "yang"), ("勇", "yong"), ("军", "jun"), ("杰", "jie"),
            ("晓明", "xiaoming"), ("丽华", "lihua")]
TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e",
                          "ê": "e", "ë": "e", "ï": "i", "î": "i", "ç": "c", "á": "a",
                          "í": "i", "ó": "o", "ú": "u", "ñ": "n", "'": "", "Í": "i",
                          "à": "a", "É": "e"})
DOMAINS = {
    "en": ["example.com", "example.org", "example.net", "mail.example.com", "corp.example.com",
           "students.example.edu", "research.example.ac.uk", "isp.example.net"],
    "de": ["example.de", "mail.example.de", "uni-example.de", "firma.example.de"],
    "fr": ["example.fr", "free.example.fr", "labo.example.fr"],
    "es": ["example.es", "correo.example.es"],
    "sv": ["example.se", "example.no"],
    "ru": ["example.ru", "mail.example.ru", "yandex.example.ru"],
    "ja": ["example.jp", "mail.example.co.jp", "univ.example.ac.jp"],
    "zh": ["example.cn", "mail.example.com.cn", "corp.example.cn"],
}
CHARSETS = {  # culture -> (pre-2014 preference, later preference)
    "en": (["us-ascii", "iso-8859-1", "utf-8", "windows-1252"], ["utf-8", "utf-8", "us-ascii"]),
    "de": (["iso-8859-1", "iso-8859-15", "windows-1252", "utf-8"], ["utf-8", "utf-8", "iso-8859-1"]),
    "fr": (["iso-8859-1", "windows-1252", "utf-8"], ["utf-8", "utf-8", "windows-1252"]),
    "es": (["iso-8859-1", "windows-1252", "utf-8"], ["utf-8", "utf-8", "iso-8859-1"]),
    "sv": (["iso-8859-1", "utf-8"], ["utf-8"]),
    "ru": (["koi8-r", "koi8-r", "windows-1251", "utf-8"], ["utf-8", "utf-8", "koi8-r"]),
    "ja": (["iso-2022-jp", "iso-2022-jp", "shift_jis", "utf-8"], ["utf-8", "iso-2022-jp", "shift_jis"]),
    "zh": (["gb2312", "gbk", "gb2312", "utf-8"], ["utf-8", "gbk", "gb2312"]),
}
MAILERS = [
    ("User-Agent", "Mutt/1.5.21 (2010-09-15)", "mutt"),
    ("User-Agent", "NeoMutt/20180716", "mutt"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:60.0) Gecko/20100101 Thunderbird/60.9.1", "tb"),
    ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:102.0) Gecko/20100101 Thunderbird/102.13.0", "tb"),
    ("X-Mailer", "Microsoft Outlook 16.0", "outlook"),
    ("X-Mailer", "Microsoft Office Outlook 12.0", "outlook"),
    ("X-Mailer", "Apple Mail (2.3445.104.11)", "apple"),
    ("X-Mailer", "git-send-email 2.20.1", "git"),
    ("User-Agent", "Evolution 3.36.5-0ubuntu1", "evo"),
    ("User-Agent", "Gnus/5.13 (Gnus v5.13) Emacs/26.1 (gnu/linux)", "gnus"),
    ("User-Agent", "Roundcube Webmail/1.4.2", "web"),
    ("X-Mailer", "Becky! ver. 2.75.01 [ja]", "becky"),
    ("X-Mailer", "Sylpheed 3.7.0 (GTK+ 2.24.32; x86_64-pc-linux-gnu)", "sylpheed"),
    ("X-Mailer", "Foxmail 7.2.23.121[cn]", "foxmail"),
    ("User-Agent", "Claws Mail 3.17.5 (GTK+ 2.24.32; x86_64-pc-linux-gnu)", "claws"),
    ("X-Mailer", "iPhone Mail (16G102)", "apple"),
    ("", "", "gmail"),
]
TZ_BY_CULTURE = {
    "en": [0, 0, 60, -300, -240, -480, -420, -360, 330, 600, 630, 765, -210, 345, 525, -600],
    "de": [60, 120, 60], "fr": [60, 120], "es": [60, 120, -180], "sv": [60, 120],
    "ru": [180, 240, 300, 420, 600], "ja": [540], "zh": [480],
}
TZ_NAMES = {60: "CET", 120: "CEST", 0: "UTC", -300: "EST", -240: "EDT", 540: "JST",
            480: "CST", 180: "MSK", -480: "PST", -420: "PDT", 330: "IST"}
OBS_ZONES = {-300: "EST", -240: "EDT", -360: "CST", -480: "PST", -420: "PDT"}


class Person:
    __slots__ = ("culture", "display", "first", "addr", "from_hdr", "charset_old", "attr",
                 "charset_new", "mailer", "tz", "sig", "reply_prefix", "style",
                 "ident_name", "top_post")


# --------------------------------------------------------------------------
# text material
# --------------------------------------------------------------------------
GENERIC_EN = [
    "I had a look at the {w} and it seems related to the {w} change.",
    "As far as I can tell the {w} is only affected when {w} is enabled.",
    "We have been running this setup for about {n} months without any {w} problems.",
    "Could you post the output of the {w} command and your {w} configuration?",
    "I am not sure whether this is a {w} issue or a {w} issue.",
    "The documentation on {w} is a bit thin, so I may be missing something obvious.",
    "For what it's worth, the same thing happens with the {w} backend.",
    "This only started after we moved the {w} to a new {w}.",
    "Does anyone else see this, or is it just our {w}?",
    "My guess is that the {w} cache is not invalidated after a {w} update.",
    "I can reproduce it reliably with about {n} messages in the archive.",
    "We tried increasing the {w} limit but that did not change anything.",
    "There is an open ticket about the {w} behaviour, but no patch yet.",
    "It would help to know which version of the {w} you are using.",
    "The {w} in question is about {n} MB, which is not unusual for us.",
    "I would rather not change the default {w} without a deprecation period.",
    "Please keep the list in Cc so that others can find the answer later.",
    "Sorry for the late reply, I was travelling last week.",
    "Thanks for the quick response.",
    "Let me know if you need more details about the {w}.",
    "In our case the {w} is stored on a separate {w} volume.",
    "That sounds like the {w} timeout we discussed on the list a while ago.",
    "Unfortunately the {w} does not print anything useful at the default log level.",
    "If I disable the {w} plugin the problem goes away.",
    "We should probably document the {w} option in the FAQ.",
    "The {w} and {w} settings interact in a non-obvious way here.",
    "I agree with the general direction, but the {w} part needs more thought.",
    "Has anyone measured the impact on {w} performance?",
    "It took roughly {n} seconds to rebuild the {w} index on my laptop.",
    "The {a} {w} is probably the culprit here.",
    "I think we can {v} the {w} safely once the {w} is gone.",
    "Maybe it is worth trying to {v} the {w} first and see what happens.",
    "We saw a {a} {w} on two machines, but not on the third one.",
    "Nothing in the changelog mentions the {w}, which surprised me.",
    "The {w} is still {a} after a restart, so it is not a transient problem.",
    "I will try to {v} it again tomorrow with debug logging turned on.",
    "Our {w} is shared with the {w} team, so I have to be careful with changes.",
    "Another option would be to {v} the {w} in a cron job every night.",
    "Good point, I had not considered the {w} case.",
    "I just checked and the {w} directory is owned by the wrong user.",
    "On the other hand, a {a} {w} would make the {w} much simpler.",
    "Note that the {w} format changed between the last two releases.",
    "If nobody objects I will {v} the {w} later this week.",
]
FROM_HERE = [
    "From here on the {w} is handled by the new code path.",
    "From now on please send {w} reports to the issue tracker instead.",
    "From what I can see in the logs the {w} never finished.",
    "From the {w} output it looks like the index was never opened.",
]
USERS_SUBJ = [
    "Search returns no results for {w}",
    "How to exclude {w} folders from indexing?",
    "Import of large mbox file fails with \"{err}\"",
    "kestrel {ver}: {w} not found after upgrade",
    "Question about {w} configuration",
    "Slow queries on a {n} GB archive",
    "Unicode characters shown as question marks",
    "Can't start kestrel-web behind {svc}",
    "Thread view shows replies in wrong order",
    "Best way to back up the {w} database?",
    "Error: permission denied on {path}",
    "Dates in the archive are off by one hour",
    "Attachments are not indexed",
    "Installing kestrel on {distro}",
    "Memory usage keeps growing during import",
    "\"{err}\" when running kestrel-admin",
    "Is it possible to search by {w}?",
    "Newbie question: {w} vs {w}",
]
USERS_Q = [
    "I'm running kestrel {ver} on {distro} with an archive of about {n} thousand messages.",
    "Since yesterday every import stops with the following error:",
    "I followed the installation guide step by step but I keep getting \"{err}\".",
    "Searching for {w} returns nothing, although I can see the messages in the folder.",
    "The machine has {n} GB of RAM and the archive lives on {path}.",
    "Is this a known problem, or did I misconfigure something?",
    "Any hints would be appreciated.",
    "I already tried to {v} the index, without success.",
    "Our mail comes from a {svc} server and is stored as Maildir.",
    "What is the recommended way to {v} the {w} in this situation?",
]
USERS_A = [
    "This is usually caused by a stale lock file; check whether {path}/index.lock still exists.",
    "Which version are you on exactly? This was fixed in {ver2}.",
    "You need to {v} the index after changing the tokenizer settings, otherwise old documents keep the old terms.",
    "Make sure the user running kestrel can read {path}, including all subdirectories.",
    "I had exactly the same problem last month. Upgrading to {ver2} fixed it for me.",
    "The error message is misleading, it really means the {w} could not be opened.",
    "Could you run the import with --verbose and post the last lines of the output?",
    "Try setting charset_fallback = windows-1252 in kestrel.toml; many old archives are not valid UTF-8.",
]
USERS_PROC = [
    ["Step 1: stop the kestrel service:", ["    sudo systemctl stop kestrel"],
     "Step 2: move the old index out of the way and run the following:",
     ["    mv {path}/index {path}/index.old", "    kestrel-admin reindex --full {path}"],
     "Step 3: start the service again and check the log for errors.",
     ["    sudo systemctl start kestrel", "    journalctl -u kestrel -n 50"]],
    ["Here is what worked for me.", "Step 1: check the ownership of the archive:",
     ["    ls -ld {path} {path}/*"], "Step 2: fix it, run the following:",
     ["    chown -R kestrel:kestrel {path}"], "Step 3: run a consistency check:",
     ["    kestrel-admin fsck --repair {path}"]],
    ["You can do this in two steps.", "Step 1: export the configuration:",
     ["    kestrel-admin config dump > /tmp/kestrel.toml"],
     "Step 2: edit /tmp/kestrel.toml, set max_{w} = {n} and load it again:",
     ["    kestrel-admin config load /tmp/kestrel.toml"]],
]
USERS_RESOLVED = [
    "That worked, thanks!",
    "That worked, thanks a lot. Marking this as solved.",
    "Fixed by upgrading to {ver2}. Thanks everyone.",
    "Root cause was {cause}. After fixing that, everything works again.",
    "Never mind, it was a typo in my configuration file. Sorry for the noise.",
    "Confirmed: the lock file was the problem. Removing it and restarting fixed it.",
    "Thanks, that did the trick. I added a note to the wiki.",
]
DEV_SUBJ_PATCH = [
    "[PATCH] {comp}: {action}",
    "[PATCH v{k}] {comp}: {action}",
    "[PATCH v{k} {i}/{m}] {comp}: {action}",
    "[PATCH {i}/{m}] {comp}: {action}",
    "[RFC PATCH] {comp}: {action}",
]
DEV_SUBJ_DISC = [
    "Proposal: {proposal}",
    "[RFC] {proposal}",
    "Build failure on {platform}",
    "CI broken on master after {comp} changes",
    "Release planning for {ver2}",
    "Code review backlog",
    "Question about the {comp} design",
    "Deprecating the {w} option",
]
ACTIONS = [
    "fix off-by-one in {func}", "avoid double free in {func}", "add support for {feature}",
    "speed up {func} by caching the {w}", "remove unused {w} helper",
    "handle empty {w} gracefully", "use {w2} instead of {w}", "document the {w} option",
    "refactor {func}", "make {func} thread-safe", "fix memory leak in {func}",
    "reject malformed {w} headers", "log a warning when {w} is missing",
]
FEATURES = ["IMAP IDLE", "zstd compressed archives", "public-inbox v2 repositories",
            "RFC 2231 parameters", "format=flowed", "Maildir++ subfolders", "DKIM headers",
            "ISO-2022-JP subjects", "JSON output", "incremental reindexing", "phrase queries",
            "date range filters", "thread muting", "CJK bigram tokenization"]
PROPOSALS = ["switch the default tokenizer to Unicode word boundaries",
             "drop support for Python 2 bindings", "move the CI to containers",
             "store raw messages compressed", "split kestrel-web into its own repository",
             "adopt a code of conduct", "time-based releases every six months",
             "replace the config parser", "require signed-off-by lines"]
PLATFORMS = ["FreeBSD 12", "macOS on ARM", "32-bit ARM", "Windows (MSVC)", "musl libc",
             "OpenBSD", "Solaris 11", "ppc64le"]
COMPONENTS = ["indexer", "query", "mbox", "maildir", "tokenizer", "stemmer", "threading",
              "web", "cli", "storage", "postings", "mime", "charset", "ranking", "snippets"]
DEV_REVIEW = [
    "Looks good to me.", "Nit: please wrap the commit message at 72 columns.",
    "Can you split this into two patches? The {w} rename is unrelated to the fix.",
    "Why not use {func} here? It already handles the {w} case.",
    "This breaks the build on {platform}, see the log below.",
    "Applied to master, thanks.", "Queued for {ver2}.",
    "I think there is still a race if two writers {v} the {w} at the same time.",
    "Please add a test case for the empty {w}.",
    "Did you run the benchmark? I would expect the {w} path to be slower now.",
]
CODE_C = [
    "if ({x} == NULL)", "\treturn -1;", "for (i = 0; i < n; i++) {{", "\t{x}[i] = 0;", "}}",
    "{x}->count++;", "free({x});", "{x} = NULL;", "ret = {f}({x}, len);", "if (ret < 0)",
    "\tgoto out;", "size_t len = strlen({x});", "memcpy(buf, {x}, len);",
]
CODE_RUST = [
    "let {x} = {f}(&path)?;", "if {x}.is_empty() {{", "    return Ok(None);", "}}",
    "for doc in {x}.iter() {{", "    writer.add_document(doc)?;",
    "let mut {x} = Vec::with_capacity(n);", "match {f}(&{x}) {{",
    "    Err(e) => warn!(\"{f} failed: {{}}\", e),", "{x}.sort_unstable();",
]
CODE_PY = [
    "def {f}({x}):", "    if not {x}:", "        return None", "    for item in {x}:",
    "        yield item.strip()", "{x} = {f}(path)", "with open(path, 'rb') as fh:",
    "    data = fh.read()", "log.warning('%s failed', {x})",
]
OPS_SUBJ = [
    "[outage] {svc} down on {host}",
    "Planned maintenance: kernel upgrade to {kver} on {host}",
    "DNS: {domain} not resolving from {dc}",
    "Certificate for {domain} expires in {n} days",
    "Backup job failed on {host}",
    "Disk usage on {host} at {pct}%",
    "High load on {host} since {hhmm} UTC",
    "Moving {svc} from {host} to {host2}",
    "Postmortem: {svc} outage",
    "NTP drift on {host}",
    "Mail queue stuck on {host}",
    "Upgrading {host} to {distro}",
    "Nagios: {host} is CRITICAL",
]
OPS_BODY = [
    "At {hhmm} UTC monitoring reported {svc} on {host} as unreachable.",
    "I restarted {svc} on {host} and it came back after about {n} seconds.",
    "The {svc} logs show a burst of connection errors just before the crash.",
    "DNS for {domain} is served by ns1 and ns2; ns2 still had the old serial.",
    "The certificate on {host} was issued by the intermediate that expired last night.",
    "Backups are written to backup01 with borg; last successful run was {n} days ago.",
    "I will upgrade {host} to kernel {kver} tonight; expect about {n} minutes of downtime.",
    "Load average on {host} is around {n}, mostly iowait.",
    "/var on {host} is at {pct}% because of rotated logs that were never compressed.",
    "The zone file for {domain} had a syntax error, so the reload was silently rejected.",
    "We failed over to {host2} at {hhmm} UTC; no mail was lost.",
    "I've silenced the alert for two hours while we investigate.",
    "The backup restore test on {host2} finished without errors.",
    "After the reboot {host} runs {kver} and all services are green again.",
    "Please do not touch {host} until the RAID resync is finished.",
    "Root cause was {cause}.",
    "Action items: add monitoring for the {w}, document the failover, review the runbook.",
]
OPS_LOG = [
    "{date_log} {hostshort} {svc}[{pid}]: connection to {ip} port {port} timed out",
    "{date_log} {hostshort} kernel: [{up}] EXT4-fs warning (device sda1): ext4_dx_add_entry: Directory index full!",
    "{date_log} {hostshort} {svc}[{pid}]: error: certificate verify failed: certificate has expired",
    "{date_log} {hostshort} {svc}[{pid}]: warning: {w}: No space left on device",
    "{date_log} {hostshort} systemd[1]: {svc}.service: Main process exited, code=killed, status=9/KILL",
    "{date_log} {hostshort} named[{pid}]: zone {domain}/IN: loading from master file failed: unexpected end of input",
    "{date_log} {hostshort} kernel: [{up}] Out of memory: Killed process {pid} ({svc})",
]
CAUSES = [
    "a certificate renewal hook that never ran", "a full /var partition", "a stale NFS lock",
    "an expired intermediate certificate", "a typo in the zone file",
    "the MTU on the new VLAN", "a runaway log rotation", "a missing index on messages.thread_id",
    "clock skew between the replicas", "the OOM killer hitting postgres", "a bad DIMM",
    "the RAID controller battery", "an outdated CA bundle",
    "an AAAA record still pointing to the old host", "a race in the lock file handling",
    "the glibc upgrade changing collation order", "a firewall rule dropping port 587",
    "inode exhaustion on the spool partition",
]
SERVICES = ["postfix", "dovecot", "nginx", "haproxy", "postgresql", "mysql", "redis",
            "memcached", "bind", "unbound", "exim", "sshd", "rsyslog", "prometheus",
            "elasticsearch", "rabbitmq", "chrony", "openvpn", "nfs-server", "jenkins",
            "apache2", "borg", "kestrel-web", "kestrel-indexer"]
HOST_PREFIX = ["db", "mx", "web", "app", "lb", "ns", "backup", "build", "mail", "relay",
               "cache", "search", "fs", "mon", "log", "vpn", "git", "ci"]
ERRORS = ["invalid byte sequence", "too many open files", "database is locked",
          "unexpected end of MIME part", "No such file or directory", "address already in use",
          "certificate verify failed", "index is corrupt", "Permission denied",
          "failed to decode header"]
ANN_SUBJ = ["[ANN] Kestrel {ver} released", "Kestrel {ver} release candidate {k}",
            "[SECURITY] Kestrel {ver} fixes {cve}", "Kestrel {oldver} end of life",
            "[ANN] Mailing list migration on {hhmm} UTC"]
I18N_SUBJ_EN = ["Translation status for {langname} ({ver})", "Encoding problem with {charset} mails",
                "Wrong date format in the {locale} locale", "New translator for {langname}",
                "Japanese tokenizer splits words incorrectly", "Plural forms in {langname}",
                "String freeze for {ver}", "Search for Cyrillic words is case sensitive"]
I18N_BODY_EN = [
    "The {langname} translation is at {pct}% for {ver}; {n} strings are still fuzzy.",
    "Messages sent with charset={charset} are displayed as mojibake in the web UI.",
    "In the {locale} locale the date is shown as month/day, which is confusing.",
    "Please do not translate the placeholders like %s and {{count}}.",
    "The string freeze for {ver} starts next Monday.",
    "I uploaded the updated .po file to the translation platform.",
    "Could someone who speaks {langname} review the new strings?",
    "The tokenizer should use bigrams for CJK text instead of whitespace splitting.",
]
LANGNAMES = ["German", "French", "Spanish", "Russian", "Japanese", "Chinese", "Portuguese",
             "Polish", "Czech", "Turkish"]
LOCALES = ["de_DE", "fr_FR", "es_ES", "ru_RU", "ja_JP", "zh_CN", "pt_BR", "en_GB"]

# other languages: (subjects, body sentences, replies/thanks)
LANG_TEXT = {
    "de": (
        ["Festplatte voll auf dem Archivserver", "Frage zur Konfiguration von {w}",
         "Suche findet keine Umlaute", "Fehler beim Import nach Update auf {ver}",
         "Übersetzung der Weboberfläche", "Datumsformat in der Übersicht falsch",
         "Probleme mit der Zeichenkodierung"],
        ["Ich habe seit gestern das Problem, dass der Import mit einer Fehlermeldung abbricht.",
         "Die Suche nach Wörtern mit Umlauten wie „Größe“ oder „Übersicht“ liefert keine Treffer.",
         "Wir betreiben das Archiv auf einem Server mit Debian und etwa zwanzig Listen.",
         "Kann mir jemand sagen, wo die Konfigurationsdatei liegt?",
         "Nach dem Neustart des Dienstes war alles wieder in Ordnung.",
         "Die Festplatte ist zu 98 Prozent belegt, obwohl wir letzte Woche aufgeräumt haben.",
         "Ich vermute, dass die Protokolldateien nicht rotiert werden.",
         "Bitte prüfe, ob der Benutzer Schreibrechte auf das Verzeichnis hat.",
         "Das Problem tritt nur bei älteren Nachrichten auf, die in ISO-8859-1 kodiert sind.",
         "Vielen Dank für die schnelle Antwort, ich werde das morgen ausprobieren.",
         "Die Übersetzung ist fast fertig, es fehlen nur noch ein paar Meldungen.",
         "Gibt es eine Möglichkeit, den Index im laufenden Betrieb neu aufzubauen?",
         "Im Protokoll steht leider nichts Hilfreiches.",
         "Wir haben das gleiche Verhalten auch auf einem zweiten Rechner beobachtet.",
         "Schöne Grüße aus München und ein schönes Wochenende."],
        ["Danke, das hat funktioniert!", "Problem gelöst, vielen Dank an alle.",
         "Mit dem Update auf die neue Version ist der Fehler behoben.",
         "Die Ursache war ein voller Cronjob-Spool, jetzt läuft alles wieder."],
        "Hallo zusammen,", "Viele Grüße"),
    "fr": (
        ["Problème d'encodage des accents", "Question sur l'indexation des pièces jointes",
         "Erreur après la mise à jour vers {ver}", "Traduction française de l'interface",
         "Recherche très lente sur une grosse archive"],
        ["Depuis la mise à jour, la recherche ne trouve plus les messages contenant des accents.",
         "Nous utilisons Kestrel sur un serveur Debian avec une archive d'environ dix ans.",
         "Est-ce que quelqu'un a déjà rencontré ce problème ?",
         "J'ai essayé de reconstruire l'index, sans succès.",
         "Les messages anciens sont encodés en ISO-8859-1 et les nouveaux en UTF-8.",
         "Merci d'avance pour votre aide.",
         "La traduction est presque terminée, il reste une vingtaine de chaînes.",
         "Le fichier de configuration se trouve dans le répertoire /etc/kestrel.",
         "Il faudrait vérifier les droits d'accès sur le répertoire de l'archive.",
         "Après le redémarrage du service, tout fonctionne de nouveau.",
         "Je pense que le problème vient de la détection automatique du jeu de caractères.",
         "Pouvez-vous envoyer la sortie complète de la commande ?"],
        ["Merci, ça marche parfaitement !", "Problème résolu en passant à la nouvelle version.",
         "C'était bien un problème de droits, merci beaucoup."],
        "Bonjour à tous,", "Cordialement"),
    "es": (
        ["Problema con acentos en la búsqueda", "Error al importar un archivo mbox grande",
         "Traducción al español de la interfaz web", "Consulta sobre la configuración del índice"],
        ["Desde la actualización, la búsqueda no encuentra mensajes con tildes o eñes.",
         "Tenemos un archivo de correo de unos quince años en un servidor Ubuntu.",
         "¿Alguien ha visto este error antes?",
         "He intentado reconstruir el índice pero el problema sigue igual.",
         "Los mensajes antiguos están en ISO-8859-1 y los nuevos en UTF-8.",
         "Muchas gracias de antemano por la ayuda.",
         "La traducción está casi terminada, faltan unas treinta cadenas.",
         "¿Es posible excluir algunas carpetas de la indexación?",
         "Después de reiniciar el servicio todo volvió a funcionar correctamente.",
         "Creo que el problema está en la detección del juego de caracteres."],
        ["¡Gracias, eso funcionó!", "Solucionado actualizando a la última versión.",
         "Era un problema de permisos, muchas gracias."],
        "Hola a todos,", "Saludos"),
    "ru": (
        ["Проблема с кодировкой KOI8-R в архиве", "Поиск не находит русские слова",
         "Ошибка при импорте после обновления", "Перевод веб-интерфейса на русский",
         "Сервер не отвечает после перезагрузки"],
        ["После обновления до новой версии поиск перестал находить русские слова.",
         "Старые письма в архиве закодированы в KOI8-R, а новые в UTF-8.",
         "Подскажите, пожалуйста, где находится файл конфигурации?",
         "Я попробовал перестроить индекс, но это не помогло.",
         "У нас около двадцати списков рассылки и архив за десять лет.",
         "Заранее спасибо за помощь.",
         "Перевод почти готов, осталось около тридцати строк.",
         "Проверьте права доступа к каталогу с архивом.",
         "После перезапуска службы всё заработало.",
         "Похоже, что проблема в автоматическом определении кодировки.",
         "Диск на сервере заполнен почти на сто процентов."],
        ["Спасибо, всё заработало!", "Проблема решена обновлением до новой версии.",
         "Причина была в неправильных правах на каталог, спасибо."],
        "Всем привет,", "С уважением"),
    "ja": (
        ["検索で日本語が見つからない", "文字化けについての質問", "インデックスの再構築が終わらない",
         "日本語訳の進捗について", "メールの日付がずれて表示される"],
        ["いつもお世話になっております。",
         "バージョンを更新してから、日本語のキーワードで検索しても結果が表示されません。",
         "古いメールはISO-2022-JPで、新しいメールはUTF-8で保存されています。",
         "インデックスを再構築してみましたが、状況は変わりませんでした。",
         "設定ファイルの場所を教えていただけないでしょうか。",
         "サーバーのディスク容量はまだ十分に残っています。",
         "ログにはエラーが出力されていないようです。",
         "日本語の形態素解析ではなく、バイグラムで分割するのがよいと思います。",
         "翻訳はほぼ完了しており、残りは数件のメッセージだけです。",
         "同じ現象が別のサーバーでも再現しました。",
         "よろしくお願いいたします。"],
        ["解決しました。ありがとうございました。", "最新版に更新したら直りました。",
         "原因は設定ファイルの文字コードでした。助かりました。"],
        "皆様", "以上、よろしくお願いします。"),
    "zh": (
        ["搜索中文关键词没有结果", "邮件归档中文乱码问题", "升级后导入失败", "中文翻译进度",
         "索引重建速度很慢"],
        ["升级到新版本以后，用中文关键词搜索不到任何邮件。",
         "旧的邮件是GB2312编码的，新的邮件是UTF-8编码的。",
         "我已经尝试重建索引，但是问题依然存在。",
         "请问配置文件放在哪个目录下？",
         "我们的服务器上有大约二十个邮件列表，归档了十年的邮件。",
         "日志里面没有看到任何错误信息。",
         "中文分词应该使用二元切分，而不是按照空格切分。",
         "翻译工作基本完成了，还剩下几十个字符串。",
         "重启服务以后一切恢复正常。",
         "先谢谢大家的帮助。"],
        ["谢谢，问题已经解决了！", "升级到最新版本后问题解决了。",
         "原因是目录权限设置不对，非常感谢。"],
        "大家好，", "谢谢"),
}
CJK = ("ja", "zh")
ATTRS = {"en": ["On %s, %s wrote:", "On %s, %s wrote:", "On %s %s wrote:", "%s, %s:", "%s wrote on %s:"],
         "de": ["Am %s schrieb %s:", "On %s, %s wrote:"],
         "fr": ["Le %s, %s a écrit :", "On %s, %s wrote:"],
         "es": ["El %s, %s escribió:", "On %s, %s wrote:"],
         "ru": ["%s, %s пишет:", "On %s, %s wrote:"],
         "ja": ["On %s, %s wrote:", "%s、%s さんは書きました:"],
         "zh": ["On %s, %s wrote:", "在 %s，%s 写道："]}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
WD = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
CODEC = {"us-ascii": "ascii", "iso-8859-15": "iso8859_15"}


_TZS = {}


def tzstr(off):
    z = _TZS.get(off)
    if z is None:
        z = _TZS[off] = "%s%02d%02d" % ("+" if off >= 0 else "-", abs(off) // 60, abs(off) % 60)
    return z


def fmt_date(ts, off, style):
    t = time.gmtime(ts + off * 60)
    z = tzstr(off)
    if style == 0:
        return "%s, %02d %s %d %02d:%02d:%02d %s" % (WD[t[6]], t[2], MON[t[1] - 1], t[0], t[3], t[4], t[5], z)
    if style == 1:
        return "%s, %d %s %d %02d:%02d:%02d %s" % (WD[t[6]], t[2], MON[t[1] - 1], t[0], t[3], t[4], t[5], z)
    if style == 2:
        return "%d %s %d %02d:%02d:%02d %s" % (t[2], MON[t[1] - 1], t[0], t[3], t[4], t[5], z)
    if style == 3 and off in TZ_NAMES:
        return "%s, %d %s %d %02d:%02d:%02d %s (%s)" % (WD[t[6]], t[2], MON[t[1] - 1], t[0], t[3], t[4], t[5], z, TZ_NAMES[off])
    if style == 4 and (off == 0 or off in OBS_ZONES):
        zn = "GMT" if off == 0 else OBS_ZONES[off]
        return "%s, %d %s %d %02d:%02d:%02d %s" % (WD[t[6]], t[2], MON[t[1] - 1], t[0], t[3], t[4], t[5], zn)
    if style == 5:
        return "%s, %d %s %d %02d:%02d %s" % (WD[t[6]], t[2], MON[t[1] - 1], t[0], t[3], t[4], z)
    if style == 6 and off == 0:
        return "%s, %02d %s %d %02d:%02d:%02d -0000" % (WD[t[6]], t[2], MON[t[1] - 1], t[0], t[3], t[4], t[5])
    return "%s, %d %s %d %02d:%02d:%02d %s" % (WD[t[6]], t[2], MON[t[1] - 1], t[0], t[3], t[4], t[5], z)


def asctime(ts):
    t = time.gmtime(ts)
    return "%s %s %2d %02d:%02d:%02d %d" % (WD[t[6]], MON[t[1] - 1], t[2], t[3], t[4], t[5], t[0])


def year_of(ts):
    return time.gmtime(ts)[0]


QSAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")


_EW_CACHE = {}


def ew_encode(text, charset, mode, single=False):
    """RFC 2047 encode `text` as one or more encoded words joined by folding."""
    if text.isascii():
        return text
    key = (text, charset, mode, single)
    v = _EW_CACHE.get(key)
    if v is None:
        if len(_EW_CACHE) > 100000:
            _EW_CACHE.clear()
        v = _EW_CACHE[key] = _ew_encode(text, charset, mode, single)
    return v


def _ew_encode(text, charset, mode, single):
    codec = CODEC.get(charset, charset)
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        charset, codec = "utf-8", "utf-8"
    if single:
        pieces = [text]
    elif " " in text.strip():
        pieces = []
        cur = ""
        for w in text.split(" "):
            if cur and len(cur) >= 16:
                pieces.append(cur)
                cur = " " + w
            else:
                cur = (cur + " " + w) if cur else w
        pieces.append(cur)
    else:
        step = 9 if not text[:1].isascii() else 20
        pieces = [text[i:i + step] for i in range(0, len(text), step)]
    words = []
    for piece in pieces:
        data = piece.encode(codec)
        if mode == "B":
            words.append("=?%s?B?%s?=" % (charset, base64.b64encode(data).decode()))
        else:
            out = []
            for b in data:
                if b in QSAFE:
                    out.append(chr(b))
                elif b == 32:
                    out.append("_")
                else:
                    out.append("=%02X" % b)
            words.append("=?%s?Q?%s?=" % (charset, "".join(out)))
    return "\n ".join(words)


def wrap(text, width=72):
    if len(text) <= width:
        return [text]
    if " " not in text:  # CJK: no spaces; wrap by characters
        return [text[i:i + 38] for i in range(0, len(text), 38)]
    lines = []
    while len(text) > width:
        i = text.rfind(" ", 0, width + 1)
        if i <= 0:
            i = text.find(" ", width)
            if i < 0:
                break
        lines.append(text[:i])
        text = text[i + 1:]
    lines.append(text)
    return lines


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_png(rng, w, h):
    raw = bytearray()
    for _ in range(h):
        raw.append(0)
        raw += rng.randbytes(w * 3)

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))

KVER = {2009: "2.6.32", 2010: "2.6.35", 2011: "3.0.4", 2012: "3.2.0", 2013: "3.10.5",
        2014: "3.16.7", 2015: "4.1.12", 2016: "4.4.38", 2017: "4.9.65", 2018: "4.14.78",
        2019: "4.19.67", 2020: "5.4.80", 2021: "5.10.46", 2022: "5.15.74", 2023: "6.1.55",
        2024: "6.6.30", 2025: "6.12.9"}
DISTROS = ("Debian 6 (squeeze)", "Debian 7 (wheezy)", "Debian 8 (jessie)",
           "Debian 9 (stretch)", "Debian 10 (buster)", "Debian 11 (bullseye)",
           "Debian 12 (bookworm)", "CentOS 6", "CentOS 7", "Ubuntu 12.04",
           "Ubuntu 18.04", "Ubuntu 22.04", "FreeBSD 11", "Rocky Linux 9")
# thread-sticky values computed on first use: f(rng, year, start_ts)
LAZY = {
    "oldver": lambda r, y, t: "%d.%d" % (max(1, (y - 2009) // 4), r.randrange(8)),
    "kver": lambda r, y, t: KVER.get(y, "6.1.0"),
    "distro": lambda r, y, t: r.choice(DISTROS),
    "host2": lambda r, y, t: "%s%02d" % (r.choice(HOST_PREFIX), r.randrange(1, 13)),
    "domain": lambda r, y, t: r.choice(("lists.example.org", "www.example.org", "mail.example.org",
                                        "archive.example.org", "git.example.org", "example.net")),
    "dc": lambda r, y, t: r.choice(("fra1", "ams2", "nyc3", "sfo1", "sgp1")),
    "feature": lambda r, y, t: r.choice(FEATURES),
    "proposal": lambda r, y, t: r.choice(PROPOSALS),
    "platform": lambda r, y, t: r.choice(PLATFORMS),
    "path": lambda r, y, t: r.choice(("/srv/kestrel", "/var/lib/kestrel", "/home/archive", "/data/mail",
                                      "/opt/kestrel/data")),
    "cve": lambda r, y, t: "CVE-%d-%04d" % (y, r.randrange(1000, 40000)),
    "langname": lambda r, y, t: r.choice(LANGNAMES),
    "locale": lambda r, y, t: r.choice(LOCALES),
    "charset": lambda r, y, t: r.choice(("ISO-2022-JP", "KOI8-R", "GB2312", "windows-1252", "Shift_JIS")),
    "date_log": lambda r, y, t: "%s %2d %02d:%02d:%02d" % (MON[time.gmtime(t)[1] - 1], time.gmtime(t)[2],
                                                           r.randrange(24), r.randrange(60), r.randrange(60)),
}


class Slots(dict):
    """format_map mapping: sticky thread values, fresh random values for w/n/..."""
    __slots__ = ("g",)

    def __missing__(self, key):
        g = self.g
        r = g.rng
        if key == "w" or key == "w2":
            return g.word()
        if key == "n":
            return str(r.choice((2, 3, 4, 5, 8, 10, 12, 15, 20, 30, 40, 50, 64, 100, 120, 200, 500)))
        if key == "a":
            return r.choice(COMMON_ADJ)
        if key == "v":
            return r.choice(COMMON_VERBS)
        if key == "pid":
            return str(r.randrange(300, 65000))
        if key == "up":
            return "%d.%06d" % (r.randrange(100, 9999999), r.randrange(1000000))
        if key == "ip":
            return "192.0.2.%d" % r.randrange(1, 255)
        if key == "port":
            return str(r.choice((25, 53, 80, 143, 443, 587, 993, 5432, 6379, 8080)))
        if key == "pct":
            return str(r.randrange(85, 100))
        if key == "hhmm":
            return "%02d:%02d" % (r.randrange(24), r.randrange(0, 60, 5))
        if key == "x":
            return r.choice(ROOTS) + "_" + r.choice(("buf", "ctx", "doc", "len", "list", "map", "idx"))
        if key == "f":
            return r.choice(COMPONENTS[:8]) + "_" + r.choice(ROOTS)
        if key == "k":
            return str(r.randrange(2, 5))
        if key == "i":
            return str(r.randrange(1, 4))
        if key == "m":
            return str(r.randrange(4, 9))
        if key == "err":
            return r.choice(ERRORS)
        f = LAZY.get(key)
        if f is not None:
            v = self[key] = f(r, self["_yr"], self["_start"])
            return v
        raise KeyError(key)


# --------------------------------------------------------------------------
# generator
# --------------------------------------------------------------------------
class Thread:
    __slots__ = ("lst", "kind", "lang", "subject", "people", "msgs", "ctx", "size",
                 "trunc_refs", "story", "times", "starter")


class MsgInfo:
    __slots__ = ("msgid", "refs", "sender", "ts", "lines", "subject")


class Generator:
    def __init__(self, seed, n_messages):
        self.rng = rng = random.Random(seed)
        # Fast, deterministic replacements for choice/randrange (the stdlib ones
        # cost several microseconds each and dominate the profile).
        _rand = rng.random

        def choice(seq):
            return seq[int(_rand() * len(seq))]

        def randrange(a, b=None, step=1):
            if b is None:
                a, b = 0, a
            if step == 1:
                return a + int(_rand() * (b - a))
            return a + step * int(_rand() * ((b - a + step - 1) // step))
        def sample(seq, k):
            n = len(seq)
            used = set()
            res = []
            while len(res) < k:
                i = int(_rand() * n)
                if i not in used:
                    used.add(i)
                    res.append(seq[i])
            return res
        rng.choice = choice
        rng.randrange = randrange
        rng.fast_sample = sample
        self.list_cum = []
        acc = 0
        for l in LISTS:
            acc += l[2]
            self.list_cum.append(acc)
        self.lang_cum = []
        for l in LISTS:
            acc = 0
            cum = []
            for v in l[4].values():
                acc += v
                cum.append(acc)
            self.lang_cum.append((list(l[4]), cum))
        self.n_total = n_messages
        self.vocab, self.vcum = build_vocab(random.Random(seed * 7919 + 1))
        self.wbuf = []
        self.pool = rng.randbytes(1 << 17)
        self.pngs = [make_png(rng, w, h) for (w, h) in ((16, 16), (24, 18), (32, 24), (40, 30))]
        self.seq = 0
        self.msgid_ctr = 0
        self.recent_ids = {name: [] for name in LIST_NAMES}
        self.encoded_cache = {}
        self.people = self._make_people()
        self.list_people = {}
        for name, _d, _w, _t, langs in LISTS:
            cands = [p for p in self.people if p.culture in langs or p.culture == "sv"]
            k = min(len(cands), 120 + int(self.n_total ** 0.5))
            sel = rng.sample(cands, k)
            self.list_people[name] = sel
        self.list_weights = [l[2] for l in LISTS]
        self.list_culture = {}
        for name in LIST_NAMES:
            d = self.list_culture[name] = {}
            for p in self.list_people[name]:
                d.setdefault(p.culture, []).append(p)
        self.stats = {name: [0, 0] for name in LIST_NAMES}

    # -- vocabulary -------------------------------------------------------
    def word(self):
        if not self.wbuf:
            self.wbuf = self.rng.choices(self.vocab, cum_weights=self.vcum, k=4096)
        return self.wbuf.pop()

    # -- people -----------------------------------------------------------
    def _make_people(self):
        rng = self.rng
        people = []
        mix = ["en"] * 60 + ["de"] * 12 + ["fr"] * 7 + ["es"] * 7 + ["ru"] * 7 + ["ja"] * 6 + ["zh"] * 6 + ["sv"] * 3
        used = set()
        for i in range(1600):
            c = rng.choice(mix)
            p = Person()
            p.culture = c
            if c in NAMES:
                f = rng.choice(NAMES[c][0].split())
                l = rng.choice(NAMES[c][1].split())
                fl, ll = f.lower().translate(TRANSLIT), l.lower().translate(TRANSLIT)
                display = "%s %s" % (f, l)
                inverted = "%s, %s" % (l, f)
            elif c == "ru":
                (f, fl), (l, ll) = rng.choice(RU_FIRST), rng.choice(RU_LAST)
                if f[-1] in "ая":
                    l += "а"
                display = "%s %s" % (f, l)
                inverted = "%s, %s" % (l, f)
            else:
                src_l, src_f = (JA_LAST, JA_FIRST) if c == "ja" else (ZH_LAST, ZH_FIRST)
                (l, ll), (f, fl) = rng.choice(src_l), rng.choice(src_f)
                display = l + (" " if c == "ja" and rng.random() < 0.5 else "") + f
                inverted = display
            p.first = f
            local = rng.choice(("%s.%s", "%s.%s", "%.1s.%s", "%s%.1s", "%s_%s", "%s"))
            local = (local % (fl, ll)) if local.count("%") == 2 else fl + ll
            if local in used:
                local += str(rng.randrange(2, 99))
            used.add(local)
            p.addr = "%s@%s" % (local, rng.choice(DOMAINS[c]))
            p.display = display
            p.ident_name = display
            p.charset_old = rng.choice(CHARSETS[c][0])
            p.charset_new = rng.choice(CHARSETS[c][1])
            m = rng.choice(MAILERS)
            if c == "ja" and rng.random() < 0.5:
                m = MAILERS[11]
            if c == "zh" and rng.random() < 0.5:
                m = MAILERS[13]
            p.mailer = m
            p.tz = rng.choice(TZ_BY_CULTURE[c])
            p.style = rng.choice((0, 0, 1, 1, 2, 3, 4, 5, 6)) if c == "en" else rng.choice((0, 1, 3))
            p.top_post = m[2] in ("outlook", "apple") and rng.random() < 0.7
            p.attr = rng.choice(ATTRS.get(c, ATTRS["en"]))
            if m[2] == "outlook":
                p.reply_prefix = {"de": "AW: ", "sv": "SV: "}.get(c, "RE: ")
            elif c == "sv" and rng.random() < 0.5:
                p.reply_prefix = "SV: "
            elif c == "de" and rng.random() < 0.3:
                p.reply_prefix = "AW: "
            else:
                p.reply_prefix = "Re: "
            # From header (display part; charset applied at render time)
            r = rng.random()
            if r < 0.12 and inverted != display:
                p.from_hdr = ("quoted", inverted)
            elif r < 0.2:
                p.from_hdr = ("quoted", display)
            elif r < 0.25:
                p.from_hdr = ("bare", None)
            elif r < 0.3 and display.isascii():
                p.from_hdr = ("comment", display)
            else:
                p.from_hdr = ("plain", display)
            org = rng.choice(("Example Corp", "Example University", "ACME Hosting", "Initech",
                              "Globex Systems", "Umbrella Networks", ""))
            sig = [display]
            if org:
                sig.append(rng.choice(("Systems Engineer", "Software Developer", "Postmaster",
                                       "Research Associate", "CTO", "Student")) + ", " + org)
            if rng.random() < 0.5:
                sig.append("https://%s/~%s" % (p.addr.split("@")[1], local))
            if rng.random() < 0.2:
                sig.append("GPG: %04X %04X %04X %04X" % tuple(rng.randrange(65536) for _ in range(4)))
            p.sig = sig if rng.random() < 0.8 else None
            people.append(p)
        return people

    def fixed_person(self, display, addr, culture="en", mailer=0, tz=0, charset="utf-8"):
        p = Person()
        p.culture = culture
        p.display = p.ident_name = display
        p.first = display.split()[0]
        p.addr = addr
        p.charset_old = p.charset_new = charset
        p.mailer = MAILERS[mailer]
        p.tz = tz
        p.style = 0
        p.top_post = False
        p.attr = ATTRS["en"][0]
        p.reply_prefix = "AW: " if culture == "de" and mailer == 4 else "Re: "
        p.from_hdr = ("plain", display)
        p.sig = [display]
        return p

    # -- threads ----------------------------------------------------------
    def thread_size(self, lst):
        r = self.rng
        if lst == "announce":
            return 1 if r.random() < 0.6 else r.randrange(2, 5)
        if r.random() < 0.03:
            return r.randrange(15, 41)
        n = 1
        while n < 40 and r.random() < 0.68:
            n += 1
        return n

    def new_thread(self, start, budget):
        r = self.rng
        li = bisect.bisect(self.list_cum, r.random() * self.list_cum[-1])
        name, _desc, _w, tag, langs = LISTS[li]
        size = min(self.thread_size(name), budget)
        lnames, lcum = self.lang_cum[li]
        lang = lnames[bisect.bisect(lcum, r.random() * lcum[-1])]
        th = Thread()
        th.lst = name
        th.lang = lang
        th.size = size
        th.story = None
        th.msgs = []
        th.trunc_refs = r.random() < 0.06
        pool = self.list_people[name]
        if lang == "en":
            cands = pool
        else:
            cands = self.list_culture[name].get(lang) or pool
        starter = r.choice(cands)
        npart = min(len(pool), 2 + int(size ** 0.7))
        others = [p for p in r.fast_sample(cands, min(len(cands), npart + 1)) if p is not starter][:npart]
        th.people = [starter] + others
        if lang != "en" and r.random() < 0.3:
            th.people.append(r.choice(pool))
        th.starter = starter
        ctx = Slots()
        ctx.g = self
        yr = year_of(start)
        major = (yr - 2009) // 4 + 1
        minor = (yr - 2009) % 4 * 2 + r.randrange(2)
        ctx["_yr"] = yr
        ctx["_start"] = start
        ctx.update({
            "ver": "%d.%d.%d" % (major, minor, r.randrange(6)),
            "ver2": "%d.%d.%d" % (major, minor + 1, r.randrange(3)),
            "host": "%s%02d" % (r.choice(HOST_PREFIX), r.randrange(1, 13)),
            "svc": r.choice(SERVICES), "cause": r.choice(CAUSES),
            "comp": r.choice(COMPONENTS),
        })
        ctx["hostshort"] = ctx["host"]
        ctx["func"] = ctx["comp"] + "_" + r.choice(ROOTS)
        ctx["action"] = r.choice(ACTIONS).format_map(ctx)
        th.ctx = ctx
        # kind and subject
        if lang != "en":
            subs = LANG_TEXT[lang][0]
            th.kind = "foreign"
            subj = r.choice(subs)
        elif name == "users":
            th.kind = "question"
            subj = r.choice(USERS_SUBJ)
        elif name == "dev":
            if r.random() < 0.6:
                th.kind = "patch"
                subj = r.choice(DEV_SUBJ_PATCH)
            else:
                th.kind = "discussion"
                subj = r.choice(DEV_SUBJ_DISC)
        elif name == "ops":
            th.kind = "ops"
            subj = r.choice(OPS_SUBJ)
        elif name == "announce":
            th.kind = "announce"
            subj = r.choice(ANN_SUBJ)
        else:
            th.kind = "i18n"
            subj = r.choice(I18N_SUBJ_EN)
        th.subject = subj.format_map(ctx)
        if r.random() < 0.02:
            th.subject = "Fwd: " + th.subject
        # times: monotonic within thread
        times = [start]
        t = start
        for _ in range(size - 1):
            x = r.random()
            if x < 0.5:
                d = r.randrange(120, 3 * 3600)
            elif x < 0.85:
                d = r.randrange(3 * 3600, 30 * 3600)
            else:
                d = r.randrange(30 * 3600, 9 * 86400)
            t += d
            times.append(t)
        th.times = times
        return th

    # -- body composition --------------------------------------------------
    def en_paras(self, th, templates, k, extra_generic=2):
        r = self.rng
        ctx = th.ctx
        sents = [s.format_map(ctx) for s in r.fast_sample(templates, min(k, len(templates)))]
        for _ in range(r.randrange(0, extra_generic + 1)):
            sents.insert(r.randrange(len(sents) + 1), r.choice(GENERIC_EN).format_map(ctx))
        paras = []
        i = 0
        while i < len(sents):
            n = r.randrange(1, 4)
            paras.append(" ".join(sents[i:i + n]))
            i += n
        return paras

    def foreign_paras(self, lang, k):
        r = self.rng
        sents = LANG_TEXT[lang][1]
        chosen = r.fast_sample(sents, min(k, len(sents)))
        sep = "" if lang in CJK else " "
        paras = []
        i = 0
        while i < len(chosen):
            n = r.randrange(1, 4)
            paras.append(sep.join(chosen[i:i + n]))
            i += n
        return paras

    def code_block(self, th):
        r = self.rng
        yr = year_of(th.times[0])
        pool = CODE_RUST if yr >= 2016 and r.random() < 0.6 else (CODE_C if r.random() < 0.6 else CODE_PY)
        ext = {id(CODE_RUST): "rs", id(CODE_C): "c", id(CODE_PY): "py"}[id(pool)]
        ctx = th.ctx
        fname = "src/%s/%s.%s" % (ctx["comp"], r.choice(ROOTS), ext)
        lines = ["diff --git a/%s b/%s" % (fname, fname),
                 "index %07x..%07x 100644" % (r.getrandbits(28), r.getrandbits(28)),
                 "--- a/%s" % fname, "+++ b/%s" % fname]
        nh = r.randrange(1, 3)
        adds = dels = 0
        start = r.randrange(10, 800)
        for _ in range(nh):
            lines.append("@@ -%d,7 +%d,8 @@ %s" % (start, start, ctx["func"] + "()"))
            for _ in range(r.randrange(4, 10)):
                c = r.choice(pool).format_map(ctx)
                x = r.random()
                if x < 0.2:
                    lines.append("-" + c)
                    dels += 1
                elif x < 0.45:
                    lines.append("+" + c)
                    adds += 1
                else:
                    lines.append(" " + c)
            start += r.randrange(30, 200)
        stat = [" %s | %d %s" % (fname, adds + dels, "+" * adds + "-" * dels),
                " 1 file changed, %d insertions(+), %d deletions(-)" % (adds, dels)]
        return fname, stat, lines

    def compose(self, th, idx, sender, parent):
        """Return (content lines, attachments spec) for message idx of thread."""
        r = self.rng
        ctx = th.ctx
        lang = th.lang
        if idx > 0 and lang != "en" and r.random() < 0.15:
            lang = "en"  # mixed-language threads
        out = []
        attach = []
        if th.story is not None:
            return th.story[idx][2], th.story[idx][3] if len(th.story[idx]) > 3 else []
        own = []
        first = sender.first
        if lang != "en":
            _subs, _sents, thanks, greet, bye = LANG_TEXT[lang]
            own.append(greet)
            own.append("")
            if idx > 0 and sender is th.starter and r.random() < 0.7:
                paras = [r.choice(thanks)] + self.foreign_paras(lang, r.randrange(0, 2))
            else:
                paras = self.foreign_paras(lang, r.randrange(2, 6) if idx == 0 else r.randrange(1, 4))
            for p in paras:
                own.extend(wrap(p))
                own.append("")
            own.append(bye)
            own.append(first)
        else:
            kind = th.kind
            if idx == 0:
                own.append(r.choice(("Hi all,", "Hello,", "Hi,", "Hello everyone,", "Dear list,", "Hi folks,")))
                own.append("")
                if kind == "question":
                    paras = self.en_paras(th, USERS_Q, r.randrange(3, 6))
                    if r.random() < 0.4:
                        paras.insert(1, ["    $ kestrel-admin import %s" % ctx["path"],
                                         "    error: %s (at message %d)" % (r.choice(ERRORS), r.randrange(1, 90000))])
                elif kind == "patch":
                    paras = self.en_paras(th, GENERIC_EN, r.randrange(2, 4), 0)
                    own = []
                    fname, stat, diff = self.code_block(th)
                    paras.append("Signed-off-by: %s <%s>" % (sender.display, sender.addr))
                    paras.append(["---"] + stat)
                    if r.random() < 0.15:
                        attach.append(("patch", "\n".join(diff) + "\n", "0001-%s.patch" % ctx["comp"]))
                    else:
                        paras.append(diff)
                    paras.append(["-- ", "2.%d.%d" % (r.randrange(1, 45), r.randrange(5))])
                elif kind == "discussion":
                    paras = self.en_paras(th, GENERIC_EN, r.randrange(4, 8))
                elif kind == "ops":
                    paras = self.en_paras(th, OPS_BODY, r.randrange(2, 5))
                    if r.random() < 0.5:
                        logl = [s.format_map(ctx) for s in r.sample(OPS_LOG, r.randrange(2, 5))]
                        if r.random() < 0.25:
                            attach.append(("log", "\n".join(logl * r.randrange(3, 12)) + "\n", "%s.log" % ctx["svc"]))
                        else:
                            paras.insert(1, ["    " + x for x in logl])
                elif kind == "announce":
                    paras = ["We are pleased to announce the release of %s %s." % (PROJECT, ctx["ver"]),
                             "Highlights of this release:",
                             ["  * " + a.format_map(ctx) for a in r.sample(ACTIONS, r.randrange(3, 7))],
                             "Download: https://download.example.org/kestrel/kestrel-%s.tar.gz" % ctx["ver"],
                             ["SHA256: %064x" % r.getrandbits(256)],
                             "Thanks to everyone who contributed patches, bug reports and translations."]
                else:
                    paras = self.en_paras(th, I18N_BODY_EN, r.randrange(2, 5))
            else:
                is_op = sender is th.starter
                if kind == "question" and is_op and idx >= 2 and r.random() < 0.6:
                    paras = [r.choice(USERS_RESOLVED).format_map(ctx)]
                elif kind == "question" and r.random() < 0.3:
                    paras = [x.format_map(ctx) if isinstance(x, str) else [y.format_map(ctx) for y in x]
                             for x in r.choice(USERS_PROC)]
                elif kind == "question":
                    paras = self.en_paras(th, USERS_A, r.randrange(1, 3), 1)
                elif kind == "patch":
                    paras = self.en_paras(th, DEV_REVIEW, r.randrange(1, 3), 1)
                    if r.random() < 0.3:
                        paras.append("%s-by: %s <%s>" % (r.choice(("Reviewed", "Acked", "Tested")),
                                                         sender.display, sender.addr))
                elif kind == "ops":
                    paras = self.en_paras(th, OPS_BODY, r.randrange(1, 4), 1)
                elif kind == "announce":
                    paras = [r.choice(("Thanks for the release!", "Great work, everyone.",
                                       "The tarball checksum does not match the announcement, can someone check?",
                                       "Debian packages are now available in unstable."))]
                else:
                    paras = self.en_paras(th, I18N_BODY_EN + GENERIC_EN, r.randrange(1, 4), 0)
            if r.random() < 0.03:
                paras.append(r.choice(FROM_HERE).format_map(ctx))
            for p in paras:
                if isinstance(p, list):
                    own.extend(p)
                else:
                    own.extend(wrap(p))
                own.append("")
            if th.kind != "patch" or idx > 0:
                own.append(r.choice(("Thanks,", "Cheers,", "Regards,", "Best,", "--", "Thanks in advance,")) if idx == 0 else r.choice(("Cheers,", "HTH,", "Regards,", "")))
                own.append(first)
        # quoting
        if parent is not None and r.random() < 0.93:
            q = []
            for ln in parent.lines:
                if ln.startswith("> >") or (ln.endswith(":") and q and q[-1].startswith(">") and ln[:1] == ">"):
                    continue
                q.append("> " + ln if ln else ">")
                if len(q) >= 8:
                    break
            if sender.top_post:
                lines = own + ["", "-----Original Message-----",
                               "From: %s [mailto:%s]" % (parent.sender.display, parent.sender.addr),
                               "Sent: " + fmt_date(parent.ts, 0, 1),
                               "Subject: " + parent.subject, ""] + [x[2:] if x.startswith("> ") else x[1:] for x in q]
            else:
                attr = sender.attr
                if attr.startswith("%s wrote on"):
                    attr = attr % (parent.sender.display, fmt_date(parent.ts, 0, 1))
                else:
                    attr = attr % (fmt_date(parent.ts, parent.sender.tz, 1), parent.sender.display)
                if r.random() < 0.25 and len(q) > 4 and lang == "en":
                    cut = len(q) // 2
                    mid = own[:len(own) // 2]
                    lines = [attr] + q[:cut] + [""] + mid + [""] + q[cut:] + [""] + own[len(own) // 2:]
                else:
                    lines = [attr] + q + [""] + own
        else:
            lines = own
        return lines, attach

    # -- message rendering --------------------------------------------------
    def fmt_from(self, p, charset):
        kind, disp = p.from_hdr
        if kind == "bare":
            return p.addr
        if not disp.isascii():
            mode = "Q" if p.culture in ("de", "fr", "es", "sv") else "B"
            enc = ew_encode(disp, charset if charset != "us-ascii" else "utf-8", mode, single=True)
            return "%s <%s>" % (enc, p.addr)
        if kind == "comment":
            return "%s (%s)" % (p.addr, disp)
        if kind == "quoted" or "," in disp or "'" in disp or "." in disp:
            return '"%s" <%s>' % (disp, p.addr)
        return "%s <%s>" % (disp, p.addr)

    def new_msgid(self, p, ts):
        r = self.rng
        self.msgid_ctr += 1
        host = p.addr.split("@")[1]
        m = p.mailer[2]
        c = self.msgid_ctr
        if m == "gmail":
            tok = base64.b64encode(r.randbytes(24), b"+_").decode().rstrip("=")
            return "<CA%s%x@mail.gmail.com>" % (tok, c)
        if m == "mutt":
            return "<%04d%02d%02d%02d%02d%02d.GA%d@%s>" % (time.gmtime(ts)[:6] + (c, host))
        if m == "git":
            return "<%04d%02d%02d%02d%02d%02d-%d-%s@%s>" % (time.gmtime(ts)[:6] + (c, p.addr.split("@")[0], host))
        if m == "outlook":
            return "<%08X%04X%s@%s>" % (r.getrandbits(32), c & 0xffff, "$%x" % c, host)
        return "<%x.%d.%x@%s>" % (ts, c, r.getrandbits(32), host)

    def body_part(self, text, charset, subtype="plain", force_cte=None):
        """Encode text; returns (header lines, body bytes)."""
        r = self.rng
        codec = CODEC.get(charset, charset)
        try:
            data = text.encode(codec)
        except UnicodeEncodeError:
            charset = "utf-8"
            data = text.encode("utf-8")
        if data.isascii() and charset not in ("iso-2022-jp",):
            cte = "7bit"
            if charset not in ("us-ascii", "utf-8", "iso-8859-1") or r.random() < 0.5:
                charset = "us-ascii" if r.random() < 0.5 else charset
        elif charset == "iso-2022-jp":
            cte = "7bit"
        else:
            x = r.random()
            cte = "8bit" if x < 0.45 else ("quoted-printable" if x < 0.78 else "base64")
        if force_cte:
            cte = force_cte
        if cte == "quoted-printable":
            data = binascii.b2a_qp(data, istext=True)
        elif cte == "base64":
            data = base64.encodebytes(data)
        lab = charset
        if r.random() < 0.3:
            lab = charset.upper() if charset != "shift_jis" else "Shift_JIS"
        ct = "text/%s; charset=%s" % (subtype, lab) if r.random() < 0.6 else 'text/%s; charset="%s"' % (subtype, lab)
        if subtype == "plain" and r.random() < 0.1 and cte in ("7bit", "8bit"):
            ct += "; format=flowed"
        return ["Content-Type: " + ct, "Content-Transfer-Encoding: " + cte], data

    def to_html(self, lines):
        out = ["<html><head><meta http-equiv=\"Content-Type\" content=\"text/html\"></head>", "<body>"]
        inq = 0
        para = []
        for ln in lines:
            depth = 0
            while ln.startswith(">"):
                depth += 1
                ln = ln[1:].lstrip(" ") if ln[1:2] == " " else ln[1:]
            while inq < depth:
                out.append('<blockquote type="cite">')
                inq += 1
            while inq > depth:
                out.append("</blockquote>")
                inq -= 1
            if ln == "":
                if para:
                    out.append("<p>" + "<br>\n".join(para) + "</p>")
                    para = []
            else:
                para.append(html_escape(ln))
        if para:
            out.append("<p>" + "<br>\n".join(para) + "</p>")
        out.extend("</blockquote>" for _ in range(inq))
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    def boundary(self):
        r = self.rng
        return r.choice(("----=_Part_%d_%d.%d" % (r.randrange(10**6), r.randrange(10**9), r.randrange(10**12)),
                         "=-%s" % base64.b32encode(r.randbytes(10)).decode(),
                         "------------%024d" % r.getrandbits(64),
                         "Apple-Mail=_%08X-%04X" % (r.getrandbits(32), r.getrandbits(16))))

    def render(self, th, idx, info, lines, attach, broken):
        r = self.rng
        sender = info.sender
        ts = info.ts
        lname = th.lst
        yr = year_of(ts)
        charset = sender.charset_old if yr < 2014 else sender.charset_new
        if th.story is not None and len(th.story[idx]) > 4:
            charset = th.story[idx][4]
        # full text: content + signature + footer
        text_lines = list(lines)
        if sender.sig and th.kind != "patch":
            text_lines += ["", "-- "] + sender.sig
        footer = ["_______________________________________________", "%s mailing list" % lname,
                  "%s@%s" % (lname, DOMAIN), "https://%s/mailman/listinfo/%s" % (DOMAIN, lname)]
        add_footer = r.random() < 0.85
        if broken == "nul-bytes":
            charset = "utf-8" if charset in ("iso-2022-jp", "us-ascii") else charset
            text_lines.insert(min(3, len(text_lines)), "binary garbage follows:\x00\x00\x00\x00 end")
        # headers
        h = []
        relay = "mx%d.%s" % (1 + (ts // 86400) % 2, DOMAIN)
        shost = sender.addr.split("@")[1]
        qid = "%X" % r.getrandbits(40)
        if r.random() < 0.5:
            h.append("Return-Path: <%s-bounces@%s>" % (lname, DOMAIN))
        rdate = fmt_date(ts + 2, 0, 3)
        h.append("Received: from %s (localhost [127.0.0.1])\n\tby %s (Postfix) with ESMTP id %s\n\tfor <%s@%s>; %s"
                 % (relay, DOMAIN, qid[:10], lname, DOMAIN, rdate))
        h.append("Received: from mail.%s (mail.%s [198.51.100.%d])\n\tby %s (Postfix) with ESMTPS id %s\n\tfor <%s@%s>; %s"
                 % (shost, shost, r.randrange(1, 255), relay, qid[-9:], lname, DOMAIN, rdate))
        subj_enc_cs = charset if charset != "us-ascii" else "utf-8"
        mode = "Q" if sender.culture in ("de", "fr", "es", "sv", "en") else "B"
        subject = info.subject
        if broken == "undeclared-8bit":
            h.append("From: %s <%s>" % (sender.display, sender.addr))
        else:
            h.append("From: " + self.fmt_from(sender, subj_enc_cs))
        h.append("To: %s@%s" % (lname, DOMAIN) if r.random() < 0.7 else "To: %s <%s@%s>" % (lname, lname, DOMAIN))
        if idx > 0 and r.random() < 0.3:
            others = [p for p in th.people if p is not sender][:2]
            if others:
                h.append("Cc: " + ",\n ".join(self.fmt_from(p, "utf-8") for p in others))
        if broken == "undeclared-8bit":
            h.append("Subject: " + subject)
        else:
            h.append("Subject: " + ew_encode(subject, subj_enc_cs, mode))
        if broken == "unparseable-date":
            h.append("Date: " + r.choice(("sometime last tuesday", "32 Foo 2013 25:61:00 +9999",
                                          "%d-%02d-%02dT??:??" % (yr, 1 + ts % 12, 1 + ts % 28), "Today")))
        elif broken != "no-date":
            h.append("Date: " + fmt_date(ts, sender.tz, sender.style))
        if broken == "missing-message-id":
            pass
        elif broken == "duplicate-message-id" and self.recent_ids[lname]:
            h.append("Message-ID: " + r.choice(self.recent_ids[lname]))
        else:
            h.append("Message-ID: " + info.msgid)
        if info.refs and not (idx > 0 and r.random() < 0.04 and th.story is None):
            refs = info.refs
            h.append("In-Reply-To: " + refs[-1])
            if broken == "long-header-line":
                refs = refs + ["<%x.%d@%s>" % (r.getrandbits(48), i, shost) for i in range(400)]
                h.append("References: " + " ".join(refs))
            else:
                if th.trunc_refs and len(refs) > 3:
                    refs = refs[-2:] if r.random() < 0.5 else [refs[0]] + refs[-2:]
                h.append("References: " + "\n\t".join(refs) if len(refs) > 1 else "References: " + refs[0])
        elif broken == "long-header-line":
            h.append("X-Spam-Report: " + " ".join("%s=%0.3f" % (self.word().upper(), r.random())
                                                  for _ in range(900)))
        if sender.mailer[0]:
            h.append("%s: %s" % (sender.mailer[0], sender.mailer[1]))
        h.append("MIME-Version: 1.0")
        if broken:
            h.append("X-Corpus-Defect: " + broken)
        h.append("List-Id: %s <%s.%s>" % (LISTS[LIST_NAMES.index(lname)][1], lname, DOMAIN))
        x = r.random()
        if x < 0.4:
            h.append("List-Unsubscribe: <https://%s/mailman/options/%s>,\n <mailto:%s-request@%s?subject=unsubscribe>"
                     % (DOMAIN, lname, lname, DOMAIN))
        if x < 0.6:
            h.append("List-Archive: <https://%s/pipermail/%s/>" % (DOMAIN, lname))
        h.append("List-Post: <mailto:%s@%s>" % (lname, DOMAIN))
        if x < 0.2:
            h.append("List-Help: <mailto:%s-request@%s?subject=help>" % (lname, DOMAIN))
        h.append("Precedence: list")
        # body
        x = r.random()
        if th.story is not None:
            x = 0.5 if not attach else 0.99
        if broken == "nul-bytes":
            x = 0.5
            attach = []
        if broken == "undeclared-8bit":
            # 8-bit latin-1 body, no charset, claims 7bit
            txt = "\n".join(text_lines + ([""] + footer if add_footer else [])) + "\n"
            txt += "Gr\u00fc\u00dfe, \u00e0 bient\u00f4t, se\u00f1or M\u00fcller\n"
            h.append("Content-Type: text/plain")
            h.append("Content-Transfer-Encoding: 7bit")
            body = txt.encode("latin-1", "replace")
            content_headers_done = True
        else:
            content_headers_done = False
        if not content_headers_done:
            use_html_only = x < 0.03 and th.kind != "patch"
            use_alt = 0.03 <= x < 0.13 and th.kind != "patch"
            if broken == "truncated-mime":
                use_alt = True
                use_html_only = False
            text = "\n".join(text_lines + ([""] + footer if add_footer and not attach and not use_alt and not use_html_only else [])) + "\n"
            if use_html_only:
                hh, body = self.body_part(self.to_html(text_lines), charset, "html")
                h.extend(hh)
            elif use_alt or attach:
                parts = []
                if use_alt:
                    b2 = self.boundary()
                    ph, pb = self.body_part(text, charset)
                    hh2, hb = self.body_part(self.to_html(text_lines), charset, "html")
                    alt = b"".join([b"--", b2.encode(), b"\n", "\n".join(ph).encode(), b"\n\n", pb, b"\n--",
                                    b2.encode(), b"\n", "\n".join(hh2).encode(), b"\n\n", hb,
                                    b"\n--", b2.encode(), b"--\n"])
                    if not attach:
                        if broken == "truncated-mime":
                            alt = alt[:-(len(b2) + 5)]
                            alt = alt[:max(len(alt) * 3 // 4, 1)].rsplit(b"\n", 1)[0] + b"\n"
                        h.append('Content-Type: multipart/alternative;\n boundary="%s"' % b2)
                        body = b"This is a multi-part message in MIME format.\n\n" + alt if r.random() < 0.5 else alt
                    else:
                        parts.append((['Content-Type: multipart/alternative;\n boundary="%s"' % b2], alt))
                else:
                    parts.append(self.body_part(text, charset))
                if attach:
                    for kind, content, fname in attach:
                        if kind in ("patch", "log"):
                            ph, pb = self.body_part(content, "us-ascii" if content.isascii() else "utf-8")
                            ph[0] = "Content-Type: text/%s; charset=us-ascii; name=\"%s\"" % (
                                "x-patch" if kind == "patch" and r.random() < 0.5 else "plain", fname)
                            ph.append('Content-Disposition: %s; filename="%s"' % (
                                r.choice(("attachment", "inline")), fname))
                            parts.append((ph, pb))
                        else:
                            parts.append(self.binary_part(kind, fname))
                    if add_footer:
                        parts.append(self.body_part("\n".join(footer) + "\n", "us-ascii"))
                    b1 = self.boundary()
                    bb = b1.encode()
                    chunks = [b"This is a multi-part message in MIME format.\n"]
                    for ph, pb in parts:
                        chunks += [b"\n--", bb, b"\n", "\n".join(ph).encode(), b"\n\n", pb]
                        if not pb.endswith(b"\n"):
                            chunks.append(b"\n")
                    if broken != "truncated-mime":
                        chunks += [b"\n--", bb, b"--\n"]
                    h.append('Content-Type: multipart/mixed;\n boundary="%s"' % b1)
                    body = b"".join(chunks)
            else:
                force = None
                if th.story is not None and len(th.story[idx]) > 5:
                    force = th.story[idx][5]
                if broken == "nul-bytes":
                    force = "8bit"
                hh, body = self.body_part(text, charset, force_cte=force)
                h.extend(hh)
        head = "\n".join(h) + "\n\n"
        if broken == "undeclared-8bit":
            hb = head.encode("utf-8")
        else:
            hb = head.encode("ascii", "strict")
        msg = hb + body
        if not msg.endswith(b"\n"):
            msg += b"\n"
        # remember for quoting (own content without sig/footer)
        info.lines = lines[:20]
        return msg

    def binary_part(self, kind, fname):
        r = self.rng
        if kind == "png":
            data = r.choice(self.pngs)
            ct = 'image/png; name="%s"' % fname
        else:
            size = r.randrange(1200, 3600)
            off = r.randrange(len(self.pool) - size)
            data = self.pool[off:off + size]
            if kind == "pdf":
                data = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
                        b"2 0 obj\n<< /Length " + str(size).encode() + b" /Filter /FlateDecode >>\nstream\n"
                        + data + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
                ct = 'application/pdf; name="%s"' % fname
            else:
                ct = 'application/octet-stream; name="%s"' % fname
        return (["Content-Type: " + ct, "Content-Transfer-Encoding: base64",
                 'Content-Disposition: attachment; filename="%s"' % fname], base64.encodebytes(data))

    # -- main loop ------------------------------------------------------------
    def make_message(self, th, idx):
        r = self.rng
        if th.story is not None:
            sender = th.story[idx][0]
        elif idx == 0:
            sender = th.starter
        else:
            # the original poster answers often; others rotate
            sender = th.starter if (idx >= 2 and r.random() < 0.35) else r.choice(th.people)
            if sender is th.msgs[-1].sender and len(th.people) > 1:
                sender = r.choice(th.people)
        ts = th.times[idx]
        info = MsgInfo()
        info.sender = sender
        info.ts = ts
        info.msgid = self.new_msgid(sender, ts)
        parent = None
        if idx == 0:
            info.refs = []
            info.subject = (th.subject if th.story is not None or th.lst == "announce" or r.random() < 0.3 or not LISTS[LIST_NAMES.index(th.lst)][3]
                            else LISTS[LIST_NAMES.index(th.lst)][3] + " " + th.subject)
        else:
            if th.story is not None:
                pi = th.story[idx][1]
            else:
                pi = idx - 1 if r.random() < 0.6 else r.randrange(idx)
            parent = th.msgs[pi]
            info.refs = parent.refs + [parent.msgid]
            ps = parent.subject
            base = ps
            for pre in ("Re: ", "RE: ", "AW: ", "SV: ", "Fwd: "):
                if base.startswith(pre):
                    base = base[len(pre):]
            if r.random() < 0.05 and th.story is None:
                info.subject = sender.reply_prefix + ps  # "Re: Re: ..."
            else:
                info.subject = sender.reply_prefix + base
        broken = None
        if th.story is None and r.random() < BROKEN_RATE:
            broken = BROKEN_KINDS[self.broken_ctr % len(BROKEN_KINDS)]
            self.broken_ctr += 1
        lines, attach = self.compose(th, idx, sender, parent)
        if th.story is None and not attach and r.random() < 0.035:
            kind = r.choice(("pdf", "octet", "png", "png", "log"))
            if kind == "log":
                attach = [("log", "\n".join(s.format_map(th.ctx) for s in OPS_LOG) + "\n", "debug.log")]
            else:
                attach = [(kind, None, {"pdf": "report-%d.pdf", "octet": "dump-%d.bin", "png": "screenshot-%d.png"}[kind]
                           % r.randrange(1, 99))]
        if broken == "truncated-mime" and attach:
            pass
        msg = self.render(th, idx, info, lines, attach, broken)
        th.msgs.append(info)
        rec = self.recent_ids[th.lst]
        rec.append(info.msgid)
        if len(rec) > 40:
            del rec[0]
        return info, msg, broken

    def run(self, writers):
        r = self.rng
        self.broken_ctr = 0
        stories = make_stories(self)
        story_total = sum(len(s.times) for s in stories)
        budget = max(0, self.n_total - story_total)
        reg_total = budget
        reserved = 0
        span = T_END - T_START
        heap = []
        seq = 0
        stories.sort(key=lambda s: s.times[0])
        si = 0
        emitted = 0
        next_base = T_START
        while True:
            top = heap[0][0] if heap else None
            # create threads whose base start time is <= top
            while budget > 0 and (top is None or next_base <= top):
                start = next_base + r.randrange(0, 43200)
                th = self.new_thread(start, budget)
                size = th.size
                for i, t in enumerate(th.times):
                    heapq.heappush(heap, (t, seq, th, i))
                    seq += 1
                budget -= size
                reserved += size
                next_base = T_START + int(span * reserved / max(1, reg_total))
                top = heap[0][0]
            while si < len(stories) and (top is None or stories[si].times[0] <= top or budget == 0):
                th = stories[si]
                for i, t in enumerate(th.times):
                    heapq.heappush(heap, (t, seq, th, i))
                    seq += 1
                si += 1
                top = heap[0][0]
            if not heap:
                break
            t, _s, th, i = heapq.heappop(heap)
            info, msg, broken = self.make_message(th, i)
            writers[th.lst].write(msg, info, broken)
            st = self.stats[th.lst]
            st[0] += 1
            st[1] += len(msg)
            emitted += 1
            if i == len(th.times) - 1:
                th.msgs = None  # free
        return emitted


# --------------------------------------------------------------------------
# story threads (fixed content, always present)
# --------------------------------------------------------------------------
def ts_of(y, mo, d, hh, mm):
    return calendar.timegm((y, mo, d, hh, mm, 0, 0, 0, 0))


def make_stories(g):
    P = g.fixed_person
    oliver = P("Oliver Brandt", "oliver.brandt@example.net", "en", 2, 0)
    priya = P("Priya Raman", "priya@corp.example.com", "en", 0, 330)
    tom = P("Tom Fraser", "tfraser@isp.example.net", "en", 4, 60)
    olga = P("Ольга Соколова", "olga.sokolova@example.ru", "ru", 3, 180, "koi8-r")
    dieter = P("Dieter Krüger", "d.krueger@firma.example.de", "de", 4, 60, "iso-8859-1")
    heike = P("Heike Schäfer", "heike.schaefer@uni-example.de", "de", 0, 60, "iso-8859-1")
    jens = P("Jens Vogel", "jvogel@example.de", "de", 2, 60, "windows-1252")
    sato = P("佐藤 健", "ken.sato@example.jp", "ja", 11, 540, "iso-2022-jp")
    yamada = P("山田 由美", "yumi.yamada@univ.example.ac.jp", "ja", 3, 540, "utf-8")
    ito = P("伊藤 直樹", "naoki.ito@mail.example.co.jp", "ja", 0, 540, "shift_jis")
    wang = P("王 晓明", "xiaoming.wang@example.cn", "zh", 13, 480, "gb2312")
    chen = P("陈 静", "jing.chen@corp.example.cn", "zh", 3, 480, "utf-8")
    ana = P("Marta Ortega", "marta.ortega@correo.example.es", "es", 2, 60)
    stories = []

    def story(lst, subject, start, msgs, lang="en", kind="story"):
        th = Thread()
        th.lst = lst
        th.kind = kind
        th.lang = lang
        th.subject = subject
        th.trunc_refs = False
        th.msgs = []
        th.story = msgs
        th.people = [m[0] for m in msgs]
        th.starter = msgs[0][0]
        th.ctx = None
        t = start
        times = []
        for m in msgs:
            t += m[5] if len(m) > 5 else 0
            times.append(t)
        th.times = times
        th.size = len(times)
        stories.append(th)

    def L(text):
        return text.strip("\n").split("\n")

    H = 3600
    # 1. ops 2016: TLS certificate expired on mail relay
    story("ops", "[ops] TLS certificate expired on mail relay", ts_of(2016, 3, 14, 6, 12), [
        (oliver, 0, L("""Hi all,

Since about 05:40 UTC this morning outgoing mail from relay02 is piling up.
Remote servers reject the STARTTLS handshake; the log is full of:

    postfix/smtpd[23144]: SSL_accept error from unknown[203.0.113.7]: -1
    postfix/smtpd[23144]: warning: TLS library problem: certificate expired

openssl confirms it, the certificate for relay02.example.org expired at
2016-03-14 05:37 UTC. Queue is at 14,000 messages and growing.

I'm looking into it now, but if anybody touched the certificate setup
recently please shout.

Oliver""")),
        (priya, 0, L("""On Mon, 14 Mar 2016 06:12:00 +0000, Oliver Brandt wrote:
> Since about 05:40 UTC this morning outgoing mail from relay02 is piling up.
> openssl confirms it, the certificate for relay02.example.org expired at
> 2016-03-14 05:37 UTC.

I have not touched relay02 in months. The renewal is supposed to be done by
the letsencrypt cron job that runs on Sundays. Can you check
/var/log/letsencrypt/ and whether the job actually ran yesterday?

Priya"""), [], None, 40 * 60),
        (oliver, 1, L("""On Mon, 14 Mar 2016 06:52:00 +0530, Priya Raman wrote:
> The renewal is supposed to be done by the letsencrypt cron job that runs
> on Sundays. Can you check /var/log/letsencrypt/ and whether the job
> actually ran yesterday?

It did not. The last entry in /var/log/letsencrypt/ is from January. I
renewed the certificate by hand and reloaded postfix:

    certbot renew --cert-name relay02.example.org --force-renewal
    systemctl reload postfix

The queue is draining now, about 2,000 messages left. Looking for the reason
why the job did not run."""), [], None, 55 * 60),
        (tom, 2, L("""On Mon, 14 Mar 2016, Oliver Brandt wrote:
> It did not. The last entry in /var/log/letsencrypt/ is from January.

That matches the migration of relay02 to the new config management in
January. The cron file was templated with MAILTO but without PATH, so
certbot was never found and cron mailed the error to root, which goes
nowhere on that box.

Tom"""), [], None, 3 * H),
        (oliver, 3, L("""Postmortem summary for the mail relay outage on 2016-03-14:

- 05:37 UTC the TLS certificate of relay02 expired, remote MTAs refused
  STARTTLS and mail queued up (peak 14,000 messages).
- 06:55 UTC certificate renewed manually, postfix reloaded.
- 08:10 UTC queue empty, no mail lost.

Root cause was the renewal cron job: since the January migration the
cron entry had no PATH, certbot was not found, and the failure mails to
root were discarded.

Action items:
1. fix the cron template (done, PATH added);
2. add a Nagios check that alerts 21 days before any certificate expires;
3. forward root mail on all relays to the ops list.

Thanks Priya and Tom for the help.

Oliver"""), [], None, 5 * H),
    ])
    # 2. ops 2019: database replication lag, with a procedure
    story("ops", "[ops] Database replication lag on db02 after schema migration", ts_of(2019, 6, 3, 13, 5), [
        (priya, 0, L("""Hi,

After this morning's schema migration the replica db02 is falling behind the
primary db01. Replication lag was 40 seconds at noon and is now over 25
minutes; the search frontends that read from db02 show stale threads.

    postgres=# SELECT now() - pg_last_xact_replay_timestamp() AS lag;
          lag
    -----------------
     00:25:41.118344

Any ideas before I start digging?

Priya""")),
        (olga, 0, L("""On Mon, 3 Jun 2019 13:05:00 +0530, Priya Raman wrote:
> After this morning's schema migration the replica db02 is falling behind the
> primary db01.

The migration rewrote the whole messages table (ALTER TABLE ... SET DATA
TYPE), so the primary produced about 180 GB of WAL in one go. db02 replays
WAL single-threaded and its disks are the slow ones. This is expected to
catch up, but it will take hours. If you cannot wait, here is the
procedure we used last time to rebuild the replica:

Step 1: take db02 out of the frontend pool, so nobody reads stale data:

    haproxy-ctl disable server pg_read/db02

Step 2: stop PostgreSQL on db02 and move the old data directory away:

    systemctl stop postgresql@11-main
    mv /var/lib/postgresql/11/main /var/lib/postgresql/11/main.old

Step 3: run the following on db02 to clone the primary:

    pg_basebackup -h db01 -U replicator -D /var/lib/postgresql/11/main \\
        -X stream -P -R

Step 4: start PostgreSQL again and watch the replication lag:

    systemctl start postgresql@11-main
    psql -c "SELECT now() - pg_last_xact_replay_timestamp();"

Step 5: when the lag is below a few seconds, put db02 back into the pool.

Olga""", ), [], "utf-8", 50 * 60),
        (priya, 1, L("""On Mon, 3 Jun 2019 11:15:00 +0300, Ольга Соколова wrote:
> Step 3: run the following on db02 to clone the primary:

That worked, thanks! The base backup took 47 minutes, lag is now under one
second and db02 is back in the pool. I added the procedure to the runbook
under "database replication lag".

Priya"""), [], None, 4 * H),
    ])
    # 3. German users thread 2013: Festplatte voll
    story("users", "[users] Festplatte voll - Archiv wird nicht mehr aktualisiert", ts_of(2013, 11, 22, 8, 30), [
        (dieter, 0, L("""Hallo zusammen,

seit Mittwoch werden auf unserem Archivserver keine neuen Nachrichten mehr
indiziert. Im Protokoll steht nur:

    kestrel-indexer: write error: No space left on device

Die Festplatte ist tatsächlich voll (df zeigt 100 % für /var). Wir haben
letzte Woche bereits alte Sicherungen gelöscht, trotzdem ist die Platte
nach zwei Tagen wieder voll. Was belegt da so viel Platz?

Viele Grüße
Dieter Krüger"""), [], "iso-8859-1", 0, "quoted-printable"),
        (heike, 0, L("""Am 22.11.2013 09:30, schrieb Dieter Krüger:
> Die Festplatte ist tatsächlich voll (df zeigt 100 % für /var).

Schau mal mit

    du -xsh /var/* | sort -h

nach, welches Verzeichnis wächst. Ich tippe auf /var/lib/kestrel/tmp: bei
abgebrochenen Importen bleiben dort die temporären Segmente liegen, und
der Indexer räumt sie erst beim nächsten erfolgreichen Lauf auf.

Gruß, Heike"""), [], "iso-8859-1", 2 * H, "quoted-printable"),
        (dieter, 1, L("""Am 22.11.2013 um 11:30 schrieb Heike Schäfer:
> Ich tippe auf /var/lib/kestrel/tmp

Volltreffer: 41 GB an temporären Segmenten. Nach dem Löschen und einem
Neustart des Indexers läuft alles wieder. Die Ursache war ein Cronjob, der
jede Nacht einen vollständigen Import gestartet und nach einer Stunde
wieder abgebrochen hat. Danke, das hat funktioniert!

Dieter"""), [], "iso-8859-1", 5 * H, "8bit"),
        (jens, 2, L("""Dieter Krüger schrieb:
> Die Ursache war ein Cronjob, der jede Nacht einen vollständigen Import
> gestartet und nach einer Stunde wieder abgebrochen hat.

Danke für die Rückmeldung. Ich habe im Wiki unter „Festplatte voll“ einen
Abschnitt ergänzt, damit andere das schneller finden.

Jens"""), [], "windows-1252", 26 * H),
    ], lang="de")
    # 4. Japanese i18n thread 2021 about search (検索)
    story("i18n", "[i18n] 日本語の全文検索でヒットしない", ts_of(2021, 2, 8, 1, 20), [
        (sato, 0, L("""皆様

お世話になっております。佐藤です。

バージョン5.2に更新してから、日本語のキーワードで検索しても結果が表示されなくなりました。
例えば「障害報告」で検索すると、件名に含まれているメールが見つかりません。
英語のキーワードでは問題なく検索できます。

古いメールはISO-2022-JPで、新しいメールはUTF-8で保存されています。
何か設定が必要でしょうか。

よろしくお願いいたします。
佐藤"""), [], "iso-2022-jp", 0),
        (yamada, 0, L("""佐藤さん

山田です。

5.2ではトークナイザの既定値が空白区切りに変わったため、日本語の文章が一つの長い単語として
索引に登録されています。kestrel.toml で次のように設定して、インデックスを再構築してください。

    [tokenizer]
    cjk = "bigram"

    kestrel-admin reindex --full /var/lib/kestrel

これで「障害」「報告」のような二文字単位で検索できるようになります。

山田"""), [], "utf-8", 3 * H, "base64"),
        (sato, 1, L("""山田さん

ご回答ありがとうございます。
bigram に設定してインデックスを再構築したところ、日本語の検索が正しく動作するようになりました。
解決しました。ありがとうございました。

佐藤"""), [], "iso-2022-jp", 20 * H),
        (ito, 2, L("""伊藤です。

同じ現象で困っていました。Shift_JISのメールも同じ設定で検索できることを確認しました。
ドキュメントにも追記していただけると助かります。

伊藤"""), [], "shift_jis", 30 * H, "8bit"),
    ], lang="ja")
    # 5. Chinese users thread 2022
    story("i18n", "[i18n] 搜索中文邮件出现乱码", ts_of(2022, 9, 15, 2, 0), [
        (wang, 0, L("""大家好，

我们把十年的邮件归档导入到新服务器以后，搜索中文邮件时标题显示为乱码。
旧的邮件是GB2312编码的，新的邮件是UTF-8编码的。
请问有人遇到过这个问题吗？

谢谢
王晓明"""), [], "gb2312", 0, "base64"),
        (chen, 0, L("""王晓明：

这是因为部分旧邮件的标题没有声明字符集。可以在配置文件里设置默认编码：

    charset_fallback = "gbk"

然后重建索引就可以了。

陈静"""), [], "utf-8", 6 * H, "quoted-printable"),
        (wang, 1, L("""谢谢，问题已经解决了！设置 gbk 以后重建索引，标题都能正常显示和搜索了。

王晓明"""), [], "gbk", 26 * H, "8bit"),
    ], lang="zh")
    # 6. dev 2011: mbox From_ quoting patch with an attachment
    story("dev", "[PATCH] mbox: do not split messages on unquoted From lines in bodies", ts_of(2011, 5, 9, 19, 45), [
        (tom, 0, L("""Hi all,

The mbox reader splits a message in two when a body line starts with
"From " even if the previous line is not empty. That is wrong for mboxrd
archives, where such lines are quoted as ">From ". The attached patch makes
the reader require an empty line before a separator and adds a test.

From here on the reader only accepts separators that look like
"From <addr> <asctime date>".

Signed-off-by: Tom Fraser <tfraser@isp.example.net>"""),
         [("patch", "diff --git a/src/mbox/reader.c b/src/mbox/reader.c\n"
                    "--- a/src/mbox/reader.c\n+++ b/src/mbox/reader.c\n"
                    "@@ -88,7 +88,8 @@ static int is_separator(const char *line, int prev_blank)\n"
                    "-\treturn strncmp(line, \"From \", 5) == 0;\n"
                    "+\treturn prev_blank && strncmp(line, \"From \", 5) == 0\n"
                    "+\t\t&& looks_like_asctime(line + 5);\n }\n",
           "0001-mbox-From-separator.patch")], "us-ascii"),
        (oliver, 0, L("""On Mon, 9 May 2011 20:45:00 +0100, Tom Fraser wrote:
> The attached patch makes the reader require an empty line before a
> separator and adds a test.

Applied to master, thanks. I also added a corrupted sample mbox to the test
data.

Oliver"""), [], None, 20 * H),
    ])
    # 7. Spanish users thread: short
    story("users", "[users] Acentos en la búsqueda", ts_of(2017, 4, 4, 16, 0), [
        (ana, 0, L("""Hola a todos,

Desde la actualización, la búsqueda no encuentra mensajes con tildes, por
ejemplo «migración» o «configuración». Sin tilde sí aparecen.

Saludos,
Marta"""), [], "iso-8859-1", 0, "quoted-printable"),
        (jens, 0, L("""On Tue, 4 Apr 2017 17:00:00 +0100, Marta Ortega wrote:
> Desde la actualización, la búsqueda no encuentra mensajes con tildes

Enable ascii folding in the analyzer (fold_diacritics = true) and reindex.
That makes "migracion" and "migración" match each other.

Jens"""), [], None, 5 * H),
        (ana, 1, L("""Perfecto, fixed by enabling fold_diacritics. ¡Gracias!

Marta"""), [], "iso-8859-1", 22 * H, "8bit"),
    ], lang="es")
    # story message tuples: (sender, parent_index, lines, attachments, charset, delay, cte)
    for th in stories:
        fixed = []
        for m in th.story:
            m = list(m) + [None] * (7 - len(m))
            sender, parent, lines, att, cs, delay, cte = m
            fixed.append((sender, parent, lines, att or [], cs or sender.charset_new, cte))
        th.story = fixed
    return stories


# --------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------
class MaildirWriter:
    def __init__(self, out, name):
        self.base = os.path.join(out, name)
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        self.n = 0
        self.cur = os.path.join(self.base, "cur")
        self.new = os.path.join(self.base, "new")

    def write(self, msg, info, broken):
        self.n += 1
        ts = info.ts
        if self.n % 29 == 7:
            path = "%s/%d.%d.gen" % (self.new, ts, self.n)
        else:
            path = "%s/%d.%d.gen:2,S" % (self.cur, ts, self.n)
        with open(path, "wb") as f:
            f.write(msg)
        os.utime(path, (ts, ts))

    def close(self):
        pass


FROM_RE = re.compile(rb"^(>*From )", re.M)


class MboxWriter:
    def __init__(self, out, name):
        self.f = open(os.path.join(out, name + ".mbox"), "wb", buffering=1 << 20)

    def write(self, msg, info, broken):
        self.f.write(b"From %s %s\n" % (info.sender.addr.encode(), asctime(info.ts).encode()))
        if b"From " in msg:
            msg = FROM_RE.sub(rb">\1", msg)
        self.f.write(msg)
        self.f.write(b"\n")

    def close(self):
        self.f.close()


def git_ident(s):
    return s.replace("<", "").replace(">", "").replace("\n", " ").strip() or "unknown"


class PublicInboxWriter:
    EPOCH_BYTES = 1 << 30

    def __init__(self, out, name, git):
        self.base = os.path.join(out, name, "git")
        os.makedirs(self.base, exist_ok=True)
        self.git = git
        self.epoch = -1
        self.proc = None
        self.bytes = 0
        self._open()

    def _open(self):
        if self.proc:
            self._finish()
        self.epoch += 1
        repo = os.path.join(self.base, "%d.git" % self.epoch)
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME="/nonexistent")
        subprocess.run([self.git, "init", "-q", "--bare", repo], check=True, env=env)
        self.proc = subprocess.Popen([self.git, "-C", repo, "fast-import", "--quiet", "--done"],
                                     stdin=subprocess.PIPE, env=env)
        self.stdin = self.proc.stdin
        self.bytes = 0
        self.first = True

    def _finish(self):
        self.stdin.write(b"done\n")
        self.stdin.close()
        if self.proc.wait() != 0:
            raise SystemExit("git fast-import failed")

    def write(self, msg, info, broken):
        if self.bytes > self.EPOCH_BYTES:
            self._open()
        p = info.sender
        ident = "%s <%s> %d %s" % (git_ident(p.ident_name), git_ident(p.addr), info.ts, tzstr(p.tz))
        ident = ident.encode("utf-8")
        subj = (info.subject.replace("\n", " ") or "(no subject)").encode("utf-8") + b"\n"
        self.stdin.write(b"commit refs/heads/master\nauthor %s\ncommitter %s\ndata %d\n%s"
                         b"M 100644 inline m\ndata %d\n%s\n" % (ident, ident, len(subj), subj, len(msg), msg))
        self.bytes += len(msg)

    def close(self):
        self._finish()


# --------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=2000, help="total number of messages (1000..1000000)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", choices=("maildir", "mbox", "public-inbox"), default="maildir")
    ap.add_argument("--list-format", action="append", default=[], metavar="LIST=FORMAT",
                    help="override the format for one list, e.g. announce=mbox")
    ap.add_argument("--out", required=True)
    ap.add_argument("--clean", action="store_true", help="remove --out first if it exists")
    a = ap.parse_args(argv)
    if a.messages < 1:
        ap.error("--messages must be positive")
    fmts = {n: a.format for n in LIST_NAMES}
    for spec in a.list_format:
        n, _, f = spec.partition("=")
        if n not in fmts or f not in ("maildir", "mbox", "public-inbox"):
            ap.error("bad --list-format %r" % spec)
        fmts[n] = f
    if a.clean and os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out, exist_ok=True)
    git = None
    if "public-inbox" in fmts.values():
        git = shutil.which("git")
        if not git:
            ap.error("public-inbox format needs git in PATH")
    writers = {}
    for n in LIST_NAMES:
        f = fmts[n]
        writers[n] = (MaildirWriter(a.out, n) if f == "maildir" else
                      MboxWriter(a.out, n) if f == "mbox" else PublicInboxWriter(a.out, n, git))
    t0 = time.time()
    g = Generator(a.seed, a.messages)
    total = g.run(writers)
    for w in writers.values():
        w.close()
    dt = time.time() - t0
    tb = 0
    print("%-10s %-13s %9s %12s" % ("list", "format", "messages", "bytes"))
    for n in LIST_NAMES:
        c, b = g.stats[n]
        tb += b
        print("%-10s %-13s %9d %12d" % (n, fmts[n], c, b))
    print("%-10s %-13s %9d %12d" % ("total", "", total, tb))
    print("broken messages: %d; %.1f s, %.0f messages/s" % (g.broken_ctr, dt, total / dt if dt else 0),
          file=sys.stderr)


if __name__ == "__main__":
    main()
