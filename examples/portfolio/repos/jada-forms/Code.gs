/**
 * JADA inquiry and event sign-up forms.
 *
 * Deployed as a web app ("Execute as: me", "Who has access: Anyone"). The site's
 * inquiry form and the boat-show sign-up page POST here; rows land in the
 * "JADA leads" spreadsheet. The email list export (doGet) feeds the newsletter.
 */

var SHEET_ID = '1qJADAleadsSheetPlaceholderIdDemo0000000000';
var LEADS_TAB = 'Inquiries';
var LIST_TAB = 'Email list';

function doPost(e) {
  var data = JSON.parse(e.postData.contents);
  var sheet = SpreadsheetApp.openById(SHEET_ID).getSheetByName(LEADS_TAB);
  sheet.appendRow([
    new Date(),
    data.name || '',
    data.email || '',
    data.phone || '',
    data.date || '',
    data.guests || '',
    data.occasion || '',
    data.message || '',
    data.source || 'website'
  ]);
  if (data.subscribe) {
    SpreadsheetApp.openById(SHEET_ID).getSheetByName(LIST_TAB)
      .appendRow([new Date(), data.email || '', data.name || '', data.source || 'website']);
  }
  MailApp.sendEmail('captain@example.com', 'New JADA inquiry: ' + (data.name || 'unknown'),
    JSON.stringify(data, null, 2));
  return ContentService
    .createTextOutput(JSON.stringify({ ok: true }))
    .setMimeType(ContentService.MimeType.JSON);
}

function doGet(e) {
  var expected = PropertiesService.getScriptProperties().getProperty('EXPORT_TOKEN');
  var token = (e && e.parameter && e.parameter.token) || '';
  if (!expected || token !== expected) {
    return ContentService
      .createTextOutput(JSON.stringify({ error: 'forbidden' }))
      .setMimeType(ContentService.MimeType.JSON);
  }
  var rows = SpreadsheetApp.openById(SHEET_ID).getSheetByName(LIST_TAB)
    .getDataRange().getValues().slice(1);
  var csv = rows.map(function (r) { return [r[1], r[2], r[3]].join(','); }).join('\n');
  return ContentService.createTextOutput('email,name,source\n' + csv)
    .setMimeType(ContentService.MimeType.CSV);
}

function countList() {
  var sheet = SpreadsheetApp.openById(SHEET_ID).getSheetByName(LIST_TAB);
  Logger.log('email list size: ' + (sheet.getLastRow() - 1));
}
