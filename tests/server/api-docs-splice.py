#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the responses of docs/api.md from a POSTERN_DOCS_PRINT=1 run of
test-api-docs (read on stdin): the n-th response block of the page is
replaced by the n-th printed one. Review the diff before committing."""
import re
import sys

page_path = sys.argv[1]
printed = [line for line in sys.stdin.read().split('\n') if not line.startswith('# ') and not line.startswith('<!-- line')]
printed = '\n'.join(printed)
blocks = re.findall(r'```http\n(HTTP/1\.1 .*?)```', printed, re.S)
blocks = [re.sub(r'" : ', '": ', b).replace('\r\n', '\n').rstrip('\n') for b in blocks]

page = open(page_path).read()
count = 0


def replace(match):
    global count
    block = blocks[count]
    count += 1
    return '```http\n' + block + '\n```'


page = re.sub(r'```http\n(HTTP/1\.1 .*?)\n```', replace, page, flags=re.S)
if count != len(blocks):
    sys.exit(f'{count} response blocks in the page, {len(blocks)} printed')
open(page_path, 'w').write(page)
