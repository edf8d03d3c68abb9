#!/usr/bin/env python3
"""Writes expected.json: outputs of the real Jinja2, configured as transformers renders chat templates
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its own tojson, raise_exception,
strftime_now). The Swift tests must reproduce every output byte for byte, and fail where Jinja fails.

Run from anywhere: python3 Tests/ChatTests/Fixtures/make_expected.py  (needs jinja2)
"""
import datetime
import json
import os

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
# 2024-07-26 12:00 UTC; the Swift tests pass the same instant as `now`.
NOW = datetime.datetime(2024, 7, 26, 12, 0, 0)


class RaisedException(Exception):
    pass


def raise_exception(message):
    raise RaisedException(message)


def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


def read(name):
    with open(os.path.join(HERE, name), encoding="utf-8", newline="") as handle:
        return handle.read()


def chat_context(messages, add_generation_prompt=True, bos="", eos="", **extra):
    context = {"messages": messages, "add_generation_prompt": add_generation_prompt,
               "bos_token": bos, "eos_token": eos, "tools": None}
    context.update(extra)
    return context


SYSTEM = {"role": "system", "content": "You are a terse assistant.  "}
USER1 = {"role": "user", "content": "  What is the capital of France?\n"}
ASSISTANT1 = {"role": "assistant", "content": "Paris."}
USER2 = {"role": "user", "content": "And of Italy? Answer with \"quotes\" & <tags>, 'apostrophes', ünïcødé ✓."}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
TOOL_CALL = {"role": "assistant", "content": "", "tool_calls": [
    {"type": "function", "function": {"name": "get_current_weather", "arguments": {"location": "Paris, France", "unit": "celsius"}}}]}
LLAMA = dict(bos="<|begin_of_text|>", eos="<|eot_id|>")

TEMPLATE_CASES = [
    ("smollm2 system user assistant user", "smollm2-135m-instruct.jinja",
     chat_context([SYSTEM, USER1, ASSISTANT1, USER2], True, "<|im_start|>", "<|im_end|>")),
    ("smollm2 no system", "smollm2-135m-instruct.jinja", chat_context([USER1], True, "<|im_start|>", "<|im_end|>")),
    ("smollm2 no generation prompt", "smollm2-135m-instruct.jinja",
     chat_context([USER1, ASSISTANT1], False, "<|im_start|>", "<|im_end|>")),
    ("llama3.1 system user assistant user", "llama-3.1-8b-instruct.jinja",
     chat_context([SYSTEM, USER1, ASSISTANT1, USER2], True, **LLAMA)),
    ("llama3.1 no system", "llama-3.1-8b-instruct.jinja", chat_context([USER1], True, **LLAMA)),
    ("llama3.1 custom date, no generation prompt", "llama-3.1-8b-instruct.jinja",
     chat_context([USER1, ASSISTANT1], False, date_string="01 Jan 2025", **LLAMA)),
    ("llama3.1 ipython role with string content", "llama-3.1-8b-instruct.jinja",
     chat_context([USER1, TOOL_CALL, {"role": "ipython", "content": "{\"temperature\": 21}"}], True, **LLAMA)),
    ("llama3.1 tool role with mapping content", "llama-3.1-8b-instruct.jinja",
     chat_context([USER1, TOOL_CALL, {"role": "tool", "content": {"temperature": 21.5, "unit": "celsius"}}], True, **LLAMA)),
    ("llama3.1 tools in first user message", "llama-3.1-8b-instruct.jinja",
     chat_context([SYSTEM, USER1], True, tools=[WEATHER_TOOL], **LLAMA)),
    ("llama3.1 tools in system message", "llama-3.1-8b-instruct.jinja",
     chat_context([USER1], True, tools=[WEATHER_TOOL], tools_in_user_message=False, **LLAMA)),
    ("llama3.1 builtin tool call", "llama-3.1-8b-instruct.jinja",
     chat_context([USER1, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "brave_search",
                   "arguments": {"query": "weather Paris"}}}]}, {"role": "ipython", "content": "sunny"}], True,
                  builtin_tools=["brave_search", "code_interpreter", "wolfram_alpha"], **LLAMA)),
    ("llama3.1 two tool calls raise", "llama-3.1-8b-instruct.jinja",
     chat_context([USER1, {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL["tool_calls"][0]] * 2}], True, **LLAMA)),
    ("llama3.1 tools without user message raise", "llama-3.1-8b-instruct.jinja",
     chat_context([SYSTEM], True, tools=[WEATHER_TOOL], **LLAMA)),
    ("qwen2.5 plain", "qwen2.5-instruct.jinja", chat_context([SYSTEM, USER1, ASSISTANT1, USER2], True)),
    ("qwen2.5 default system", "qwen2.5-instruct.jinja", chat_context([USER1], False)),
    ("qwen2.5 tools and tool responses", "qwen2.5-instruct.jinja",
     chat_context([USER1, {"role": "assistant", "content": "Let me check.", "tool_calls": [TOOL_CALL["tool_calls"][0],
                   {"type": "function", "function": {"name": "get_time", "arguments": {}}}]},
                   {"role": "tool", "content": "21 C"}, {"role": "tool", "content": "12:00"}, ASSISTANT1], True,
                  tools=[WEATHER_TOOL])),
    ("deepseek-r1-distill think and tools", "deepseek-r1-distill.jinja",
     chat_context([SYSTEM, USER1, {"role": "assistant", "content": "<think>hmm</think>Paris."}, USER2,
                   {"role": "assistant", "content": None, "tool_calls": [
                       {"type": "function", "function": {"name": "lookup", "arguments": "{\"city\": \"Rome\"}"}},
                       {"type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
                   {"role": "tool", "content": "Rome"}, {"role": "tool", "content": "none"},
                   {"role": "assistant", "content": "Rome."}], True, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>")),
    ("deepseek-r1-distill generation prompt", "deepseek-r1-distill.jinja",
     chat_context([USER1], True, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>")),
    ("gemma alternating", "gemma-it.jinja", chat_context([USER1, ASSISTANT1, USER2], True, "<bos>", "<eos>")),
    ("gemma alternation error", "gemma-it.jinja", chat_context([USER1, USER2], True, "<bos>", "<eos>")),
    ("gemma system error", "gemma-it.jinja", chat_context([SYSTEM, USER1], True, "<bos>", "<eos>")),
]

ITEMS = {"items": [{"name": "b", "n": 2, "tag": "x"}, {"name": "A", "n": 1}, {"name": "c", "n": 3, "tag": "y"}],
         "words": ["pear", "Apple", "fig", "apple"], "text": "  Hello, World  ", "d": {"z": 1, "a": [1, 2], "m": None}}

SNIPPETS = [
    "{% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}"
    "{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %};{% endfor %}",
    "{% for a, b in [[1, 'x'], [2, 'y']] %}{{ a }}={{ b }},{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}:{{ v }};{% endfor %}|{% for k, v in d|items %}{{ k }}{% endfor %}",
    "{% for x in [1, 2, 3, 4, 5] if x is odd %}{{ x }}{{ loop.length }}{% endfor %}",
    "{% for x in [] %}never{% else %}empty{% endfor %}",
    "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for x in [1, 2] %}{% for y in 'ab' %}{{ loop.index }}{{ x }}{{ y }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for i in [1, 2] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}",
    "{% set x = 1 %}{% for i in [5, 6] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
    "{% set ns = namespace(count=0, found=false) %}{% for i in range(4) %}{% set ns.count = ns.count + i %}"
    "{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (3, 4) %}{{ t[0] + t[1] }}",
    "{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]",
    "{% if false %}a{% elif 0 %}b{% elif 'x' %}c{% else %}d{% endif %}",
    "{{ 'abcdef'[1:] }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[-2:] }} {{ 'abcdef'[1:5:2] }} {{ [1, 2, 3, 4][:-1] }} {{ [1, 2, 3][::-2] }} {{ 'abc'[-1] }}",
    "{{ [1, 2, 3][5] is undefined }} {{ d.missing is defined }} {{ d['z'] }} {{ d.a[1] }} {{ d.a.0 }}",
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 1 / 4 }} {{ 3 * 1.5 }} {{ 10 - 2 - 3 }} {{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ -2 ** 2 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ 2.5 }} {{ 'ab' * 3 }} {{ [1] + [2, 3] }} {{ 'x' + 'y' }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'b' >= 'a' }} {{ [1, 2] < [1, 3] }}",
    "{{ 1 in [1, 2] }} {{ 'ell' in 'hello' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1, 2] }} {{ 'z' not in 'abc' }}",
    "{{ true and 'yes' }} {{ 0 or 'fallback' }} {{ not none }} {{ none or [] }} {{ not 1 == 2 }}",
    "{{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'only' if false }}]",
    "{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ 1.5 is number }}"
    " {{ d is mapping }} {{ [1] is iterable }} {{ 'a' is iterable }} {{ 5 is iterable }} {{ [1] is sequence }}"
    " {{ true is boolean }} {{ true is true }} {{ false is false }} {{ 1 is true }} {{ 4 is even }} {{ 3 is odd }}"
    " {{ 9 is divisibleby 3 }} {{ 2 is equalto 2 }} {{ 1 is not none }} {{ 'a' is not string }}",
    "[{{ text|trim }}] [{{ text|upper }}] [{{ text|lower }}] [{{ 'hELLO wORLD'|capitalize }}] [{{ 'hello big-world (x)'|title }}]",
    "{{ words|length }} {{ words|count }} {{ 'héllo'|length }} {{ d|length }} {{ words|first }} {{ words|last }} {{ 'abc'|first }}",
    "{{ words|join(', ') }} {{ [1, 2, 3]|join }} {{ items|join('/', attribute='name') }}",
    "{{ undefined_name|default('dflt') }} {{ ''|default('dflt') }} {{ ''|default('dflt', true) }} {{ none|d('n') }} {{ 0|d('zero', boolean=true) }}",
    "{{ d|tojson }} {{ items|tojson(indent=2) }} {{ 'ü \"q\" \\\\ \n\t<&>'|tojson }} {{ [1.5, 1.0, 1e20, 0.1, none, true]|tojson }} {{ {}|tojson(indent=4) }} {{ []|tojson }}",
    "{{ 42|string }}{{ [1, 'a']|string }} {{ '12'|int + 1 }} {{ '3.7'|int }} {{ 'x'|int }} {{ '2.5'|float }} {{ 3|float }} {{ 7.9|int }}",
    "{{ 'abc'|list }} {{ d|list }} {{ d|items|map('last')|list }} {{ d.keys()|list }} {{ d.values()|list }}",
    "{{ 'a-b-a'|replace('a', 'x') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|replace('', '-') }} {{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }}",
    "{{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }}"
    " {{ words|reject('equalto', 'fig')|list }} {{ [1, 5, 10]|select('gt', 3)|list }}",
    "{{ items|selectattr('tag')|map(attribute='name')|list }} {{ items|rejectattr('tag')|map(attribute='n')|list }}"
    " {{ items|selectattr('n', 'equalto', 3)|map(attribute='name')|join }} {{ items|map(attribute='tag', default='-')|list }}",
    "{{ [1, 2, 3]|map('string')|join('+') }} {{ words|map('upper')|list }} {{ words|unique|list }} {{ words|unique(case_sensitive=true)|list }}",
    "{{ words|sort }} {{ words|sort(reverse=true) }} {{ words|sort(case_sensitive=true) }} {{ items|sort(attribute='n')|map(attribute='name')|join }} {{ [3, 1, 2]|sort }}",
    "{{ 2.5|round }} {{ 3.5|round }} {{ 3.14159|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ -3|abs }} {{ -2.5|abs }}",
    "{{ '<b>'|safe }} {{ '<a href=\"x\">&\\'</a>'|e }} {{ '<>'|escape }}",
    "{{ 'line1\nline2\n\nline4'|indent }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent(width='> ', blank=true) }}",
    "{{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}"
    "|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}",
    "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'Hi'.upper() }} {{ 'Hi'.lower() }}"
    " {{ 'aXa'.replace('a', 'b') }} {{ \"they're here\".title() }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.count('bc') }} {{ '-'.join(['a', 'b']) }}",
    "{{ d.get('z') }} {{ d.get('nope') }} {{ d.get('nope', 'dflt') }} {{ d.items()|map('first')|list }} {{ d.keys()|list }}",
    "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} {{ range(0)|list }}",
    "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %A %B %j') }}",
    "{% macro greet(name, punctuation='!') %}Hi {{ name }}{{ punctuation }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', '?') }} {{ greet(name='Cy', punctuation='.') }}",
    "{% filter upper %}shout {{ 'this' }}{% endfilter %}",
    "{{ [1, 'two', none, true, 2.5, {'k': [1]}] }} {{ {'a': 'it\\'s'} }} {{ none }} {{ true }} {{ 1.0 }} {{ 1e16 }} {{ 0.1 + 0.2 }}",
    "{{ 'a' 'b' }} {{ \"\\x41\\u00e9\\n\" }} {{ 'tab\\there' }} {{ 'keep \\d' }}",
    "{% raw %}{{ not evaluated }}{% endraw %}",
    "a  {{- ' b ' -}}  c {# comment #} d\n  {%- if true %} e {% endif -%}\n  f",
    "line\n    {% if true %}\n    kept\n    {% endif %}\n    {{ 'var' }}\n  {# comment #}\nend\n",
    "{% if true %}\r\nwin{% endif %}\r\nnext\r\n",
    "    {%+ if true %}plus{% endif %}",
    "{% set ns = namespace(items=[]) %}{% for x in 'abc' %}{% set ns.items = ns.items + [x|upper] %}{% endfor %}{{ ns.items|join }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}",
    "{{ items[0].name }} {{ items[-1]['n'] }} {{ (items|last).tag }} {{ items|length > 2 }}",
    "  {#- c -#}  x",
    "a\n  {%- raw %} r {% endraw -%}\n b",
    "{% if true -%}\n\n  x\n{%- endif %}",
    "x {{- 1 }} y {{ 2 -}} z",
    "\t{% if true %}\tt{% endif %}\n",
    "{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n",
    "{{ 1 }}\n{% if true %}\nA\n{% endif %}\n{{ 2 }}\n",
    "text   {%+ if true %}x{% endif %}",
    "{%- if true -%}   \n\n  x  \n\n  {%- endif -%}",
    "a\n\n",
    "{% set x %}\n  body\n{% endset %}[{{ x }}]",
    "  {% raw %}  {% x %}  {% endraw %}  \n  end",
    "{% for x in 'ab' %}{{ loop.cycle('odd', 'even') }}{% endfor %}",
    "{{ x.y }}",
    "{{ 1 + 'a' }}",
    "{{ 1 / 0 }}",
    "{{ raise_exception('custom failure: ' ~ 42) }}",
]


def render(env, source, context):
    try:
        return {"output": env.from_string(source).render(**context)}
    except RaisedException as error:
        return {"raised": str(error)}
    except (TemplateError, TypeError, ZeroDivisionError, ValueError) as error:
        return {"error": type(error).__name__ + ": " + str(error)}


def main():
    env = environment()
    templates = []
    for name, template, context in TEMPLATE_CASES:
        case = {"name": name, "template": template, "context": context}
        case.update(render(env, read(template), context))
        templates.append(case)
    snippets = []
    for source in SNIPPETS:
        case = {"source": source, "context": ITEMS}
        case.update(render(env, source, ITEMS))
        snippets.append(case)
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8", newline="\n") as handle:
        json.dump({"now_unix": int(NOW.replace(tzinfo=datetime.timezone.utc).timestamp()), "templates": templates,
                   "snippets": snippets}, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
