"""Figures (matplotlib, imported lazily: ``import sim`` never imports matplotlib).

Every function takes ``(df_or_report, ..., ax=None)`` and returns the Figure; nothing
here calls ``plt.show()``.
"""
