#!/usr/bin/env python3
"""Golden ids for retort's tokenizer tests, from Hugging Face `tokenizers` and `transformers`.

Run on a machine with tokenizers + transformers (the GPU machine):
  python3 tools/golden/make_tokenizer_golden.py TOKENIZERS_DIR OUT.json
TOKENIZERS_DIR holds qwen3/ and llama3/ (tokenizer.json + tokenizer_config.json, unpacked from
tests/fixtures/tokenizers/tokenizers.tar.xz). The corpus below is the test corpus: edit it here,
re-run, and commit the new OUT.json.
"""
import json
import sys

CORPUS = [
    "Hello world",
    "Hello, world! How are you today?",
    # contractions in every case
    "I'm sure it's fine, you're right, we've seen they'll do what he'd said.",
    "I'M SURE IT'S FINE, YOU'RE RIGHT, WE'VE SEEN THEY'LL DO WHAT HE'D SAID.",
    "i'M sUrE iT'S fInE, yOu'Re RiGhT, wE'Ve, ThEy'Ll, hE'D, dOn'T, cAn'T",
    "rock 'n' roll 'tis ''quoted'' 'single'",
    # digits, decimals, thousands separators
    "1234567890123456789012345678901234567890",
    "3.14159265358979 and 2.71828, -0.5, +7, 1e-10, 6.02e23",
    "The total is 1,234,567.89 dollars (or 1.234.567,89 EUR); 12 345 678.",
    "x = 12345; y = 678.9; z = x * y // 7 % 3",
    # LaTeX
    r"The answer is $\frac{1}{2} + \sqrt{3}$ so \boxed{\frac{\pi}{4}}.",
    r"\begin{align} a^2 + b^2 &= c^2 \\ \int_0^1 x\,dx &= \tfrac12 \end{align}",
    r"Therefore $\boxed{-\dfrac{3}{4}}$ and \left( x_{i+1} \right)^{2}",
    # code with tabs and indentation
    "def f(x):\n    if x > 0:\n\treturn x ** 2\n    return -x\n",
    "int main() {\n\tfor (int i = 0; i < 10; ++i) {\n\t\tprintf(\"%d\\n\", i);\n\t}\n}\n",
    "    four spaces\n        eight spaces\n\t\ttwo tabs\n",
    # runs of spaces and newlines, CRLF
    "a  b   c    d     e",
    "line one\n\nline three\n\n\n\nline seven",
    "windows\r\nline\r\n\r\nendings\r\n",
    "   leading and trailing spaces   ",
    "\n\n\n",
    " ",
    "",
    "trailing newline\n",
    "mixed \t \n \r\n  \t\t whitespace",
    # CJK, Arabic
    "你好，世界！今天天气很好。我们来解一个方程：x² + 2x + 1 = 0。",
    "日本語のテキスト：東京は日本の首都です。カタカナとひらがな。",
    "한국어 텍스트입니다. 서울은 대한민국의 수도입니다.",
    "مرحبا بالعالم! هذا نص عربي مع أرقام ١٢٣ و 456.",
    "Здравствуй, мир! Ελληνικά: αβγδ. עברית: שלום",
    # emoji with skin tones and ZWJ sequences
    "emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 👩🏿‍💻 ❤️ 🇯🇵",
    # combining accents that NFC composes
    "Cafe\u0301 cre\u0300me bru\u0302le\u0301e, n\u0303, A\u030a, o\u0308",
    "café crème brûlée (precomposed)",
    # special tokens inside text
    "<think>\nLet me think step by step.\n</think>\n<answer>42</answer>",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "text<|endoftext|>more text<|end_of_text|>",
    "a<|im_start|><|im_start|>b<think></think>",
    # misc punctuation and symbols
    "Wait, wait. Wait... let me re-check: (3 + 4) * 5 = 35?! Yes -- 35.",
    "URLs: https://example.com/path?q=1&r=2#frag and emails a.b@c.de",
    "Symbols: ~!@#$%^&*()_+-={}[]|\\:;\"'<>,.?/ `backticks` ©®™ €£¥ ±×÷ ≤≥≠ →",
    "A" * 300,
    "ab " * 100,
    "\u00a0non-breaking\u00a0space and zero\u200bwidth",
]

CONVERSATIONS = {
    "user": [{"role": "user", "content": "What is 7 * 6?"}],
    "user_assistant": [
        {"role": "user", "content": "What is 7 * 6?"},
        {"role": "assistant", "content": "7 * 6 = 42."},
    ],
    "two_turns": [
        {"role": "user", "content": "What is 7 * 6?"},
        {"role": "assistant", "content": "7 * 6 = 42."},
        {"role": "user", "content": "And 42 / 7?"},
    ],
    "system_two_turns": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 7 * 6?"},
        {"role": "assistant", "content": "7 * 6 = 42."},
        {"role": "user", "content": "And 42 / 7?"},
    ],
}


def main():
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    import tokenizers
    import transformers

    src, out_path = sys.argv[1], sys.argv[2]
    out = {"generator": "tools/golden/make_tokenizer_golden.py",
           "tokenizers_version": tokenizers.__version__,
           "transformers_version": transformers.__version__}
    for name in ("qwen3", "llama3"):
        tok = Tokenizer.from_file(f"{src}/{name}/tokenizer.json")
        cases = []
        for text in CORPUS:
            enc = tok.encode(text, add_special_tokens=False)
            with_special = tok.encode(text, add_special_tokens=True).ids
            cases.append({"text": text, "ids": enc.ids, "ids_with_special": with_special,
                          "decoded": tok.decode(enc.ids, skip_special_tokens=False)})
        hf = AutoTokenizer.from_pretrained(f"{src}/{name}")
        chats = {}
        for key, messages in CONVERSATIONS.items():
            for gen in (False, True):
                text = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
                chats[f"{key}{'+gen' if gen else ''}"] = {
                    "messages": messages, "add_generation_prompt": gen, "text": text,
                    "ids": tok.encode(text, add_special_tokens=False).ids}
        out[name] = {"cases": cases, "chat": chats}
        print(f"{name}: {len(cases)} texts, {sum(len(c['ids']) for c in cases)} ids, "
              f"{len(chats)} chat renderings")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
