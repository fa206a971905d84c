"""Evaluation of the research agent on labelled questions (PubMedQA): the data set, an offline literature index,
the scorer and the eval runner. Sits on top of `research`; eval agents are kept apart from the user's own."""
