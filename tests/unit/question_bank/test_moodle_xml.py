from question_bank.formats.detect import BankFormat
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode

XML = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/top/Әкімшілік құқық</text></category></question>
  <question type="multichoice">
    <name><text>Q1</text></name>
    <questiontext format="html"><text><![CDATA[<p>Әкімшілік құқық бұзушылық <b>дегеніміз</b>?</p>]]></text></questiontext>
    <single>true</single>
    <answer fraction="0"><text>қылмыс</text></answer>
    <answer fraction="100"><text>&amp;lt;заңсыз&amp;gt; әрекет</text></answer>
    <answer fraction="0"><text>келісім</text></answer>
    <answer fraction="-25"><text>шарт</text></answer>
    <answer fraction="0"><text>өтініш</text></answer>
  </question>
  <question type="multichoice">
    <questiontext format="html"><text>Бірнеше жауап</text></questiontext>
    <single>false</single>
    <answer fraction="50"><text>а</text></answer>
    <answer fraction="50"><text>б</text></answer>
  </question>
  <question type="truefalse">
    <questiontext format="html"><text>Иә ма?</text></questiontext>
  </question>
</quiz>
"""


def test_moodle_multichoice_with_full_fraction_is_the_key_and_category_is_the_topic():
    report = parse_bank(XML.encode(), filename="quiz.xml", language="kk")
    assert report.format is BankFormat.MOODLE_XML
    item = report.items[0]
    assert item.text == "Әкімшілік құқық бұзушылық дегеніміз?"
    assert item.options[item.correct] == "<заңсыз> әрекет"
    assert item.topic == "Әкімшілік құқық"
    assert item.source_line == 4


def test_moodle_questions_of_other_kinds_are_refused_with_their_line():
    report = parse_bank(XML.encode(), language="kk")
    refused = [
        (p.params["kind"], p.line, p.question) for p in report.errors if p.code is ProblemCode.UNSUPPORTED_QUESTION_TYPE
    ]
    assert refused == [("multichoice (several answers)", 14, 2), ("truefalse", 20, 3)]


def test_broken_xml_and_doctype_are_unreadable():
    broken = parse_bank(b"<quiz><question type='multichoice'>", format="moodle-xml", language="kk")
    assert [p.code for p in broken.errors] == [ProblemCode.UNREADABLE_FILE]
    entity = b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x "y">]><quiz></quiz>'
    assert [p.code for p in parse_bank(entity, format="xml", language="kk").errors] == [ProblemCode.UNREADABLE_FILE]
