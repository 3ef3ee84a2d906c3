"""The special tokens every tokenizer reserves: end of text, and the chat template's turn markers.

One list for all tokenizers (char, GPT-2 BPE, a BPE trained on the user's text), so a chat model's
template reads the same whatever its tokenizer, and an exported model names them the same way. They are
never produced by encoding ordinary text: they enter token streams only as ids, where the dataset
preparation (between documents) or the chat template (around turns) puts them.
"""

from __future__ import annotations

END_OF_TEXT = "<|endoftext|>"  # between documents (GPT-2's own token, id 50256 in its vocabulary)
CHAT_ROLES = ("system", "user", "assistant")
START_OF_TURN = {role: f"<|{role}|>" for role in CHAT_ROLES}  # a turn starts with its role's token
END_OF_TURN = "<|end|>"  # and ends with this one; a chat model stops generating at it

# in the order their ids are assigned after a vocabulary's ordinary tokens
SPECIAL_TOKENS = (END_OF_TEXT, *START_OF_TURN.values(), END_OF_TURN)
