#!/usr/bin/env python3
"""extract.py [scripts.rs]: prints the append script as the gateway loads it on one Redis
(`PUBLISH`), from server/src/engine/redis/scripts.rs, for run.sh."""
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "server/src/engine/redis/scripts.rs"
src = open(path).read()


def const(name):
    m = re.search(r"const " + name + r': &str = r#"(.*?)"#;', src, re.S)
    return m.group(1) if m else ""


m = re.search(r'pub fn append\(publish: &str\) -> String \{\s*format!\(\s*"([^"]*)",.*?r#"(.*?)"#', src, re.S)
head, body = m.group(1), m.group(2)
parts = {"HEAD": const("HEAD"), "ITEMS": const("ITEMS"), "NOTIFY": const("NOTIFY")}
out = "local PUBLISH = 'PUBLISH'\n"
for name in re.findall(r"\{(\w+)\}", head):
    out += parts[name]
print(out + body)
