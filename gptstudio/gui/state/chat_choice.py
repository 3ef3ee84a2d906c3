"""What the person chose for chat data on the Dataset tab, and what a check of it still asks them (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass

from gptstudio.core.chat_dataset import ChatSurvey

NEW_MODEL = ""  # tokenizer_from for "a new model": the tokenizer choice decides (char or gpt2)


@dataclass(frozen=True)
class ChatChoice:
    """The arguments of core.chat_dataset.prepare_chat_dataset that the Dataset tab decides."""

    forced: bool = False  # read text files as User:/Assistant: transcripts
    tokenizer: str = "char"
    tokenizer_from: str = NEW_MODEL  # a run whose tokenizer the data must use (the model to fine-tune)
    skip_bad: bool = False
    drop_unknown: bool = False
    demo: bool = False  # the demo conversations (built from the bundled play) instead of files

    def kwargs(self) -> dict:
        return dict(
            tokenizer=self.tokenizer,
            forced=self.forced,
            tokenizer_from=self.tokenizer_from or None,
            skip_bad=self.skip_bad,
            drop_unknown=self.drop_unknown,
            demo=self.demo,
        )

    def survey_kwargs(self) -> dict:
        return {k: v for k, v in self.kwargs().items() if k not in ("skip_bad", "drop_unknown")}


def open_questions(survey: ChatSurvey, choice: ChatChoice) -> list[str]:
    """What the person must decide before preparing: "skip_bad" (there are bad records to leave out),
    "drop_unknown" (characters the model never saw). Unreadable files are not a question: they stop."""
    questions = []
    if survey.bad and not survey.unreadable and not choice.skip_bad:
        questions.append("skip_bad")
    if survey.unknown_chars and not choice.drop_unknown:
        questions.append("drop_unknown")
    return questions
